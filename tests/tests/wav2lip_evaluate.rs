//! Issue #15 end to end through the binaries: a Wav2Lip-layout corpus (made with OpenCV from the
//! GRID clips) is imported with `preprocess import` for both loaders; the same utterances, as the
//! Python loaders see them, are written as a shard by pyarrow with its default settings and
//! indexed with `preprocess index`; `evaluator run` scores both with the golden checkpoints
//! (VocaLiST layout on the OpenCV crops, MTDVocaLiST on the torchvision ones) and the scores
//! agree. The crops are byte-identical (asserted in `preprocess/tests/wav2lip_import.rs`); the
//! scores differ only through the mel, ours vs torch's (≤ 1e-4, SPEC §1.3).

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/release/deps/<test>").join(name)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn imported_and_pyarrow_written_shards_evaluate_alike() {
    let (Some(python), Some(grid), Some(golden)) =
        (lipsync_tests::python(), lipsync_tests::shared("grid_samples"), lipsync_tests::shared("golden"))
    else {
        return;
    };
    for b in ["preprocess", "evaluator"] {
        assert!(bin(b).exists(), "{} missing: `make test` builds the binaries first", bin(b).display());
    }
    let script = lipsync_tests::repo_root().join("preprocess/tests/wav2lip_reference.py");
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p);
    let (root, refs) = (t("root"), t("reference"));
    run(Command::new(&python)
        .arg(&script)
        .arg("build")
        .arg(grid.join("raw"))
        .arg(grid.join("lrs2_layout/manifest.tsv"))
        .arg(&root));
    let list = root.join("filelists/test.txt");
    let filterbank = golden.join("speech_librivox_mel.safetensors");
    run(Command::new(&python)
        .arg(&script)
        .arg("reference")
        .arg(&root)
        .arg(&list)
        .arg(&refs)
        .arg(&filterbank));

    let cases = [("opencv", "tiny_teacher_rand.pth"), ("torchvision", "mtdvocalist_rand.pth")];
    for (i, (kind, model)) in cases.into_iter().enumerate() {
        let ours = t(&format!("ours-{kind}"));
        let mut import = Command::new(bin("preprocess"));
        import
            .args(["import", "--layout", "wav2lip", "--root"])
            .arg(&root)
            .args(["--resize", kind, "--quiet", "--out"])
            .arg(&ours);
        // Both ways of naming the lists: a list file with its split, and split names.
        if i == 0 {
            import.arg("--list").arg(&list).args(["--split", "test"]);
        } else {
            import.args(["--splits", "test"]);
        }
        let said = run(&mut import);
        assert!(said.contains("8 utterances written, 0 skipped"), "{said}");

        let theirs = t(&format!("pyarrow-{kind}"));
        std::fs::create_dir_all(&theirs).unwrap();
        let shard = theirs.join("test-00000.parquet");
        run(Command::new(&python)
            .arg(&script)
            .arg("shard")
            .arg(&root)
            .arg(&list)
            .arg(&refs)
            .arg(kind)
            .arg(&shard));
        run(Command::new(bin("preprocess")).arg("index").arg("--shards").arg(&theirs));

        let mut scores = Vec::new();
        for (name, shards) in [("ours", &ours), ("pyarrow", &theirs)] {
            let out = t(&format!("eval-{kind}-{name}"));
            let said = run(Command::new(bin("evaluator"))
                .arg("run")
                .arg("--model")
                .arg(golden.join(model))
                .arg("--shards")
                .arg(shards)
                .arg("--out")
                .arg(&out)
                .args(["--max-windows", "12", "--quiet"]));
            assert!(said.contains("8 videos scored, 0 excluded"), "{said}");
            scores.push(out.join("scores.parquet"));
        }
        let compare = r#"
import sys, numpy as np, pyarrow.parquet as pq
a, b = (pq.read_table(p).to_pylist() for p in sys.argv[1:3])
assert [(r["utt_id"], r["window"]) for r in a] == [(r["utt_id"], r["window"]) for r in b], "different windows"
d = max(float(np.abs(np.asarray(x["scores"]) - np.asarray(y["scores"])).max()) for x, y in zip(a, b))
print(len(a), d)
"#;
        let said = run(Command::new(&python).arg("-c").arg(compare).arg(&scores[0]).arg(&scores[1]));
        let mut it = said.split_whitespace();
        let (windows, diff): (usize, f64) =
            (it.next().unwrap().parse().unwrap(), it.next().unwrap().parse().unwrap());
        eprintln!("{kind} / {model}: {windows} windows, max |score difference| {diff:e}");
        assert_eq!(windows, 8 * 12);
        assert!(diff <= 1e-4, "{kind}: scores differ by {diff}");
    }
}
