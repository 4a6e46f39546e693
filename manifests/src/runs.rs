//! Run naming shared by `make reproduce`, `trainer plot` and `evaluator compare`: a model trained
//! with several seeds has one run (and one results directory) per seed, named `<model>_s<seed>`.

/// `name_s12` → (`name`, Some(12)); any other name → (name, None).
pub fn split_seed(run: &str) -> (&str, Option<u64>) {
    if let Some((model, seed)) = run.rsplit_once("_s") {
        if !model.is_empty() && !seed.is_empty() && seed.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(seed) = seed.parse() {
                return (model, Some(seed));
            }
        }
    }
    (run, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_suffixes() {
        assert_eq!(split_seed("student_mtd_uw13_s2"), ("student_mtd_uw13", Some(2)));
        assert_eq!(split_seed("teacher"), ("teacher", None));
        assert_eq!(split_seed("student_s"), ("student_s", None));
        assert_eq!(split_seed("_s3"), ("_s3", None));
        assert_eq!(split_seed("kd_s1x"), ("kd_s1x", None));
    }
}
