//! The real terminal: raw mode, the alternate screen and mouse reporting on the way in,
//! all of it undone on the way out — on quit, on error and on panic — so a crash never
//! leaves the investigator's shell unusable.

use crate::app::{Action, App};
use crate::TuiError;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{stdout, Stdout};
use std::time::Duration;

/// Puts the terminal back as it was; safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), DisableMouseCapture, LeaveAlternateScreen);
    let _ = execute!(stdout(), crossterm::cursor::Show);
}

/// Restores the terminal when dropped, so an early return or an unwinding panic
/// leaves it usable.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

fn setup() -> Result<Terminal<CrosstermBackend<Stdout>>, TuiError> {
    // The panic message must land on the normal screen, after it is restored.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    Ok(Terminal::new(CrosstermBackend::new(stdout()))?)
}

/// Runs the investigator until the user quits.
pub fn run(app: &mut App) -> Result<(), TuiError> {
    let _guard = Guard;
    let mut terminal = setup()?;
    let mut dirty = true;
    loop {
        if dirty {
            terminal.draw(|frame| crate::ui::draw(frame, app))?;
        }
        // Short polls while background work reports progress, so the screen fills in.
        dirty = app.tick();
        if !event::poll(Duration::from_millis(if dirty { 100 } else { 1000 }))? {
            continue;
        }
        dirty = true;
        let action = match event::read()? {
            Event::Key(key) => app.handle_key(key),
            Event::Mouse(mouse) => app.handle_mouse(mouse),
            // ratatui redraws the whole screen at the new size on the next draw.
            Event::Resize(_, _) => {
                terminal.autoresize()?;
                Action::Continue
            }
            _ => Action::Continue,
        };
        if action == Action::Quit {
            break;
        }
    }
    Ok(())
}
