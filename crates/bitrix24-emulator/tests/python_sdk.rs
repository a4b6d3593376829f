//! The emulator binary, driven by a client nobody here wrote: Bitrix24's official Python SDK
//! (`b24pysdk` from PyPI) with only its base URLs pointed at it (`tests/python/b24pysdk_check.py`):
//! plain calls, a batch, errors, `app.info` and a refresh. `B24PYSDK_PYTHON` names a Python with
//! the SDK installed (`python3` by default); without one the test says so and passes, except with
//! `CI=true`, where it fails.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Stops the emulator when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_official_python_sdk_passes_against_the_emulator() {
    let python = std::env::var("B24PYSDK_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_sdk = Command::new(&python)
        .args(["-c", "import b24pysdk"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !has_sdk {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {python} cannot import b24pysdk: set B24PYSDK_PYTHON"
        );
        eprintln!(
            "\nskipped: the Python SDK check (pip install b24pysdk==1.3.2, then set B24PYSDK_PYTHON to that Python)"
        );
        return;
    }
    let mut emulator = Running(
        Command::new(env!("CARGO_BIN_EXE_bitrix24-emulator"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator starts"),
    );
    let mut described = String::new();
    BufReader::new(emulator.0.stdout.take().expect("its output"))
        .read_line(&mut described)
        .expect("it describes itself");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/b24pysdk_check.py"
    );
    let ran = Command::new(&python)
        .arg(script)
        .env("EMULATOR", described.trim())
        .output()
        .expect("the SDK check runs");
    let said = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(said.contains("18 checks passed"), "{said}");
}
