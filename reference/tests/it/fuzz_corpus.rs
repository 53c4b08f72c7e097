//! The fuzz targets' corpora (`fuzz/corpus/<target>/`) as regression tests on the stable
//! toolchain, and random bytes for each target: any input returns, none panics. The fuzz targets
//! themselves run with `cargo +nightly fuzz run <target>` (see `fuzz/README.md`).

use jcr_reference::fuzz;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("path", fuzz::path),
    ("properties", fuzz::properties),
    ("aql", fuzz::aql),
    ("manifest", fuzz::manifest),
    ("build_info", fuzz::build_info),
    ("json_bodies", fuzz::json_bodies),
    ("archive", fuzz::archive),
];

#[test]
fn every_corpus_input_returns() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut ran = 0;
    for (name, target) in TARGETS {
        let dir = root.join(name);
        let inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!inputs.is_empty(), "{name}: empty corpus");
        for input in inputs {
            target(&std::fs::read(&input).unwrap());
            ran += 1;
        }
    }
    assert!(ran >= TARGETS.len());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_return(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        for (_, target) in TARGETS {
            target(&data);
        }
    }

    #[test]
    fn random_text_returns(s in "[a-z0-9{}\\[\\]\":,.$@*!/;=%|() -]{0,200}") {
        for (_, target) in TARGETS {
            target(s.as_bytes());
        }
    }
}
