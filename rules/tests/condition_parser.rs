//! The condition parser against a table of conditions in the forms Falco's
//! documentation and stable ruleset use, with the tree each must give (in the AST's
//! compact rendering) or the error it must report, with its position.

use casefile_rules::condition::{parse, Expr};

fn tree(condition: &str) -> String {
    match parse(condition) {
        Ok(expr) => expr.to_string(),
        Err(e) => panic!("{condition:?} failed: {e}"),
    }
}

#[test]
fn conditions_parse_into_the_expected_trees() {
    let table: &[(&str, &str)] = &[
        ("proc.name = bash", r#"proc.name = "bash""#),
        ("proc.name=bash", r#"proc.name = "bash""#),
        ("proc.name == bash", r#"proc.name = "bash""#),
        ("evt.dir=<", r#"evt.dir = "<""#),
        ("fd.num>=0", r#"fd.num >= "0""#),
        ("proc.pid > 0x10", r#"proc.pid > "0x10""#),
        ("fd.name startswith /etc/", r#"fd.name startswith "/etc/""#),
        ("fd.name endswith .pem", r#"fd.name endswith ".pem""#),
        (
            "proc.cmdline contains \"-i >& /dev/tcp\"",
            r#"proc.cmdline contains "-i >& /dev/tcp""#,
        ),
        (
            "proc.cmdline icontains 'A b'",
            r#"proc.cmdline icontains "A b""#,
        ),
        (
            "fd.name glob '/var/log/*.log'",
            r#"fd.name glob "/var/log/*.log""#,
        ),
        ("fd.name iglob /TMP/*", r#"fd.name iglob "/TMP/*""#),
        (
            "evt.buffer bcontains 7f454c46",
            r#"evt.buffer bcontains "7f454c46""#,
        ),
        (
            "evt.buffer bstartswith 7f45",
            r#"evt.buffer bstartswith "7f45""#,
        ),
        ("proc.name regex '^ba?sh$'", r#"proc.name regex "^ba?sh$""#),
        ("fd.name exists", "fd.name exists"),
        (
            "proc.name in (bash, sh, 'z sh')",
            r#"proc.name in (bash, sh, "z sh")"#,
        ),
        (
            "proc.name in (runc:[0:PARENT], runc:[1:CHILD])",
            "proc.name in (runc:[0:PARENT], runc:[1:CHILD])",
        ),
        (
            "proc.name in (shell_binaries)",
            "proc.name in (shell_binaries)",
        ),
        ("proc.name in shell_binaries", "proc.name in shell_binaries"),
        ("proc.name in ()", "proc.name in ()"),
        ("evt.type in(open,openat)", "evt.type in (open, openat)"),
        (
            "proc.args intersects (-c, -e)",
            "proc.args intersects (-c, -e)",
        ),
        (
            "fd.name pmatch (/etc, /usr/bin)",
            "fd.name pmatch (/etc, /usr/bin)",
        ),
        ("proc.aname[2] = sshd", r#"proc.aname[2] = "sshd""#),
        ("proc.apid[1] > 1", r#"proc.apid[1] > "1""#),
        (
            "evt.arg.flags contains O_CREAT",
            r#"evt.arg.flags contains "O_CREAT""#,
        ),
        ("evt.arg[0] = 3", r#"evt.arg[0] = "3""#),
        ("proc.env[\"HOME\"] = /root", r#"proc.env[HOME] = "/root""#),
        ("a and b", "(a and b)"),
        ("a or b and c", "(a or (b and c))"),
        ("(a or b) and c", "((a or b) and c)"),
        ("a and b and c or d or e", "((a and b and c) or d or e)"),
        ("not a", "not a"),
        ("not not a", "not not a"),
        ("not(a or b)", "not (a or b)"),
        (
            "not proc.name = bash and c",
            r#"(not proc.name = "bash" and c)"#,
        ),
        ("a and(b or c)", "(a and (b or c))"),
        ("a or(b)", "(a or b)"),
        ("((((a))))", "a"),
        (
            "spawned_process and container and proc.name in (shell_binaries) and proc.tty != 0",
            r#"(spawned_process and container and proc.name in (shell_binaries) and proc.tty != "0")"#,
        ),
        (
            "tolower(proc.name) = bash",
            r#"tolower(proc.name) = "bash""#,
        ),
        (
            "toupper(tolower(proc.name)) = BASH",
            r#"toupper(tolower(proc.name)) = "BASH""#,
        ),
        (
            "basename(proc.exepath) in (sh, bash)",
            "basename(proc.exepath) in (sh, bash)",
        ),
        ("len(proc.args) > 100", r#"len(proc.args) > "100""#),
        (
            "b64(evt.buffer) contains Zm9v",
            r#"b64(evt.buffer) contains "Zm9v""#,
        ),
        ("proc.name = val(proc.pname)", "proc.name = val(proc.pname)"),
        (
            "proc.name != tolower(proc.pname)",
            "proc.name != val(tolower(proc.pname))",
        ),
        ("fd.name = \"a\\\"b\\\\c\"", r#"fd.name = "a\"b\\c""#),
        (
            "\n  spawned_process\n  and proc.name = sh\n",
            r#"(spawned_process and proc.name = "sh")"#,
        ),
        ("android_and_or = x.y", "android_and_or = \"x\""),
        ("order.by = 1", r#"order.by = "1""#),
        ("notes.x exists", "notes.x exists"),
        (
            "proc.name=bash and(fd.num=1)",
            r#"(proc.name = "bash" and fd.num = "1")"#,
        ),
    ];
    for (condition, expected) in table {
        if condition.starts_with("android_and_or") {
            // A bare word is a macro, and comparisons need a dotted field name.
            assert!(parse(condition).is_err(), "{condition}");
            continue;
        }
        assert_eq!(&tree(condition), expected, "condition: {condition:?}");
    }
}

#[test]
fn errors_say_what_and_where() {
    let table: &[(&str, u32, u32, &str)] = &[
        ("", 1, 1, "the condition is empty"),
        ("   ", 1, 4, "the condition is empty"),
        (
            "(proc.name = bash",
            1,
            18,
            "unbalanced parenthesis: expected ')' to close the '(' at column 1",
        ),
        (
            "proc.name = bash)",
            1,
            17,
            "unbalanced parenthesis: this ')' closes nothing",
        ),
        ("proc.name in (a, b", 1, 14, "this list is never closed"),
        ("proc.name in a.b", 1, 14, "needs a list"),
        (
            "proc.name bash",
            1,
            11,
            "expected an operator after proc.name",
        ),
        ("proc.name =", 1, 12, "'=' needs a value after it"),
        (
            "proc.name = 'bash",
            1,
            13,
            "this quoted string is never closed",
        ),
        (
            "a and",
            1,
            6,
            "expected a field, a macro name, 'not' or '('",
        ),
        ("and a", 1, 1, "'and' needs a condition before it"),
        ("a b", 1, 3, "unexpected 'b' after a complete condition"),
        ("proc.aname[2 = x", 1, 13, "expected ']'"),
        ("proc.aname[] = x", 1, 12, "needs an argument"),
        ("tolower(bash) = x", 1, 9, "tolower() takes a field"),
        ("x.1y = 2", 1, 1, "not a valid field name"),
        (
            "spawned_process and\n  proc.name in (a b)",
            2,
            19,
            "expected ',' or ')' in the list",
        ),
    ];
    for (condition, line, col, message) in table {
        let err = parse(condition).expect_err(condition);
        assert!(
            err.message.contains(message),
            "{condition:?}: expected {message:?}, got {:?}",
            err.message
        );
        assert_eq!(
            (err.pos.line, err.pos.col),
            (*line, *col),
            "{condition:?}: {err}"
        );
    }
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    let err = parse(&deep).unwrap_err();
    assert!(err.message.contains("nests deeper"), "{err}");
    let nots = format!("{}a", "not ".repeat(10_000));
    assert!(parse(&nots).is_err());
}

#[test]
fn positions_point_at_checks_and_macros() {
    let expr = parse("a and\n  proc.name = x").unwrap();
    let Expr::And(items) = expr else { panic!() };
    let Expr::Identifier { pos, .. } = &items[0] else {
        panic!()
    };
    assert_eq!((pos.line, pos.col), (1, 1));
    let Expr::Check { pos, field, .. } = &items[1] else {
        panic!()
    };
    assert_eq!((pos.line, pos.col, pos.offset), (2, 3, 8));
    assert_eq!(field.pos, *pos);
}
