//! `evaluator sync` on videos it cannot use: one clear error line naming the file.

use std::process::Command;

use lipsync_tests::clips;

#[test]
fn unusable_videos_get_one_clear_line() {
    let (Some(model), Some(grid)) = (
        lipsync_tests::shared("golden/mtdvocalist_rand.pth"),
        lipsync_tests::shared("grid_samples/lrs2_layout/mvlrs_v1/main/grid0003/00001.mp4"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    clips::faceless(&dir.path().join("noface.mp4"));
    clips::without_audio(&grid, &dir.path().join("noaudio.mp4"));
    clips::short(&grid, &dir.path().join("short.mp4"));
    for (file, needle) in
        [("noface.mp4", "no face"), ("noaudio.mp4", "audio"), ("short.mp4", "5-frame window")]
    {
        let out = Command::new(env!("CARGO_BIN_EXE_evaluator"))
            .args(["sync", &p(file), "--model", model.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{file} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{file}: {err}");
        assert!(err.contains(file) && err.contains(needle), "{file}: {err}");
    }
}
