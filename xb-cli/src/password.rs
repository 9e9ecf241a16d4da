//! `-p` without a value: the password is asked for as the MariaDB clients ask for it, on the
//! terminal (`/dev/tty`, not echoed) or, when the process has none (cron, a pipe), as one line
//! read from standard input.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::io::AsRawFd;

/// What the MariaDB clients print.
const PROMPT: &str = "Enter password: ";

/// Asks for the password.
pub fn ask() -> io::Result<String> {
    match OpenOptions::new().read(true).write(true).open("/dev/tty") {
        Ok(tty) => from_terminal(tty),
        Err(_) => {
            eprint!("{PROMPT}");
            let mut line = String::new();
            io::stdin().lock().read_line(&mut line)?;
            Ok(without_newline(line))
        }
    }
}

/// Reads a line from the terminal with its echo turned off.
fn from_terminal(mut tty: File) -> io::Result<String> {
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it for an open descriptor.
    #[allow(unsafe_code)]
    let saved = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        (libc::tcgetattr(fd, &mut t) == 0).then_some(t)
    };
    if let Some(mut quiet) = saved {
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: a valid termios for an open descriptor.
        #[allow(unsafe_code)]
        unsafe {
            libc::tcsetattr(fd, libc::TCSANOW, &quiet);
        }
    }
    tty.write_all(PROMPT.as_bytes())?;
    tty.flush()?;
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    if let Some(t) = saved {
        // SAFETY: restores the settings read above.
        #[allow(unsafe_code)]
        unsafe {
            libc::tcsetattr(fd, libc::TCSANOW, &t);
        }
    }
    read?;
    Ok(without_newline(line))
}

fn without_newline(mut line: String) -> String {
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_line_end_is_not_part_of_the_password() {
        assert_eq!(super::without_newline("s3 cret\r\n".into()), "s3 cret");
    }
}
