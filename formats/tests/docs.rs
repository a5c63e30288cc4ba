//! `docs/EVENTS.md` lists every decoded layout; this test keeps it equal to the code.

use casefile_formats::schema::layouts_markdown;

#[test]
fn events_doc_lists_the_layouts_of_the_code() {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo");
    let path = std::path::Path::new(&root).join("../docs/EVENTS.md");
    let doc = std::fs::read_to_string(&path).expect("docs/EVENTS.md");
    let (begin, end) = ("<!-- layouts:begin -->\n", "<!-- layouts:end -->");
    let start = doc.find(begin).expect("begin marker") + begin.len();
    let stop = doc.find(end).expect("end marker");
    let generated = layouts_markdown();
    if std::env::var_os("CASEFILE_BLESS").is_some() {
        let updated = format!("{}{}{}", &doc[..start], generated, &doc[stop..]);
        std::fs::write(path, updated).expect("writing docs/EVENTS.md");
        return;
    }
    assert!(
        doc[start..stop] == generated,
        "docs/EVENTS.md is out of date: run CASEFILE_BLESS=1 cargo test -p casefile-formats --test docs"
    );
}
