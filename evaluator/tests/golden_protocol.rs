//! Protocol parity: the reference's per-video accuracies and macro means, exactly (SPEC §6).

use evaluator::protocol::{CANDIDATES, CONTEXTS};
use evaluator::table::AccuracyTable;

#[test]
fn tabulate_matches_reference_exactly() {
    let Some(golden) = lipsync_tests::shared("golden") else { return };
    let bytes = std::fs::read(golden.join("eval_scores.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden.join("eval_expected.json")).unwrap()).unwrap();
    let videos = expected["per_video"].as_array().unwrap();
    assert_eq!(videos.len(), 17);
    let mut inputs = Vec::new();
    for v in videos {
        let name = v["video"].as_str().unwrap();
        let t = st.tensor(&format!("{name}.scores")).unwrap();
        let vals: Vec<f32> =
            t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let rows: Vec<[f32; CANDIDATES]> =
            vals.chunks_exact(CANDIDATES).map(|c| c.try_into().unwrap()).collect();
        assert_eq!(rows.len() as u64, v["windows"].as_u64().unwrap());
        inputs.push((name.to_string(), rows));
    }
    let table = AccuracyTable::from_scores(inputs.iter().map(|(n, r)| (n.clone(), r.as_slice())));
    for (got, v) in table.per_video.iter().zip(videos) {
        for (i, k) in CONTEXTS.iter().enumerate() {
            let want = v["acc"][format!("K{k}")].as_f64().unwrap();
            assert_eq!(got.acc[i], want, "{} K{k}", got.video);
        }
    }
    for (i, k) in CONTEXTS.iter().enumerate() {
        let want = expected["macro_mean"][format!("K{k}")].as_f64().unwrap();
        assert_eq!(table.macro_mean[i], want, "macro mean K{k}");
    }
}
