//! Replays every fuzz target's committed corpus (`fuzz/corpus/<target>/`, the inputs libFuzzer
//! kept for reaching new code, minimized) through the same entry points on a stable toolchain,
//! so CI checks each of them without nightly or libFuzzer. A target whose check fails, or whose
//! input panics, names the file.
#![cfg(feature = "unstable")]

use plainkafka::fuzzing::{run, TARGETS};
use std::path::Path;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = 0;
    for target in TARGETS {
        let dir = root.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every target keeps a corpus)", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target}: empty corpus");
        for file in files {
            let data = std::fs::read(&file).expect("corpus file");
            let outcome = std::panic::catch_unwind(|| run(target, &data).expect("a known target"));
            match outcome {
                Ok(Ok(())) => replayed += 1,
                Ok(Err(e)) => panic!("{target} {}: {e}", file.display()),
                Err(_) => panic!("{target} {}: panicked", file.display()),
            }
        }
    }
    eprintln!("{replayed} corpus inputs replayed");
}
