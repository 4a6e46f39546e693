//! The LRS2 layout (SPEC §1.5), the deterministic shard plan, and cluster task assignment.

use std::path::{Path, PathBuf};

use manifests::parse_split_list;
use shards::Split;

use crate::error::{io, PreprocessError, Result};
use crate::process::Item;

/// A located LRS2 root (`mvlrs_v1/`).
#[derive(Debug, Clone)]
pub struct Layout {
    /// The `mvlrs_v1` directory.
    pub root: PathBuf,
    /// Split lists found there.
    pub lists: Vec<Split>,
}

impl Layout {
    /// Accepts either `mvlrs_v1/` or its parent.
    pub fn discover(dir: &Path) -> Result<Self> {
        let root = if dir.join("mvlrs_v1").is_dir() { dir.join("mvlrs_v1") } else { dir.to_path_buf() };
        let lists: Vec<Split> =
            Split::ALL.into_iter().filter(|s| root.join(format!("{}.txt", s.as_str())).is_file()).collect();
        if lists.is_empty() {
            return Err(PreprocessError::NoSplitLists { root });
        }
        Ok(Self { root, lists })
    }

    /// The items of `split`, sorted by id. Ids are validated (none can escape the root).
    pub fn items(&self, split: Split) -> Result<Vec<Item>> {
        let list = self.root.join(format!("{}.txt", split.as_str()));
        let text = std::fs::read_to_string(&list).map_err(io(&list))?;
        let entries = parse_split_list(&text, &list.display().to_string())?;
        let dir = if split == Split::Pretrain { "pretrain" } else { "main" };
        let mut items: Vec<Item> = entries
            .into_iter()
            .map(|e| {
                let rel_path = format!("{dir}/{}.mp4", e.id.as_str());
                Item { split, utt_id: e.id.as_str().to_string(), video: self.root.join(&rel_path), rel_path }
            })
            .collect();
        items.sort();
        items.dedup_by(|a, b| a.utt_id == b.utt_id);
        Ok(items)
    }
}

/// One planned shard: its file name and its items.
#[derive(Debug, Clone)]
pub struct PlannedShard {
    /// Index in the global plan (the task assignment key).
    pub index: usize,
    /// `<split>-<k:05>.parquet`.
    pub file: String,
    /// Split of all its items.
    pub split: Split,
    /// Items, sorted by id.
    pub items: Vec<Item>,
}

/// Chunks each split's sorted items into shards of `per_shard`; the plan depends only on the
/// lists, so every cluster task computes the same one.
pub fn plan(items_by_split: Vec<(Split, Vec<Item>)>, per_shard: usize) -> Vec<PlannedShard> {
    let mut out = Vec::new();
    for (split, items) in items_by_split {
        for (k, chunk) in items.chunks(per_shard.max(1)).enumerate() {
            out.push(PlannedShard {
                index: out.len(),
                file: format!("{}-{k:05}.parquet", split.as_str()),
                split,
                items: chunk.to_vec(),
            });
        }
    }
    out
}

/// Which slice of the plan this process runs: shard j belongs to task j mod count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    /// This task's index.
    pub index: usize,
    /// Number of tasks.
    pub count: usize,
}

impl Task {
    /// From flags, else `SLURM_ARRAY_TASK_ID`/`SLURM_ARRAY_TASK_COUNT`, else Kubernetes'
    /// `JOB_COMPLETION_INDEX` with `count` from the flag; default a single task.
    pub fn resolve(
        index: Option<usize>,
        count: Option<usize>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let parse = |name: &str| -> Result<Option<usize>> {
            env(name)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| PreprocessError::TaskVar { name: name.into(), value: v.clone() })
                })
                .transpose()
        };
        let (index, count) = match (index, count) {
            (Some(i), Some(n)) => (i, n),
            (Some(_), None) => return Err(PreprocessError::Task("--shard-index needs --num-shards")),
            (None, flag_count) => {
                if let Some(i) = parse("SLURM_ARRAY_TASK_ID")? {
                    let n = flag_count.or(parse("SLURM_ARRAY_TASK_COUNT")?).ok_or(PreprocessError::Task(
                        "SLURM_ARRAY_TASK_ID is set but neither --num-shards nor SLURM_ARRAY_TASK_COUNT is",
                    ))?;
                    (i, n)
                } else if let Some(i) = parse("JOB_COMPLETION_INDEX")? {
                    (
                        i,
                        flag_count.ok_or(PreprocessError::Task(
                            "JOB_COMPLETION_INDEX is set: pass the completion count as --num-shards",
                        ))?,
                    )
                } else {
                    (0, flag_count.unwrap_or(1))
                }
            }
        };
        if count == 0 || index >= count {
            return Err(PreprocessError::TaskIndex { index, count });
        }
        Ok(Self { index, count })
    }

    /// Whether planned shard `j` is this task's.
    pub fn owns(&self, j: usize) -> bool {
        j % self.count == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_from_flags_and_environment() {
        let none = |_: &str| None;
        assert_eq!(Task::resolve(None, None, none).unwrap(), Task { index: 0, count: 1 });
        assert_eq!(Task::resolve(Some(2), Some(4), none).unwrap(), Task { index: 2, count: 4 });
        let slurm = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("3".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("8".to_string()),
            _ => None,
        };
        assert_eq!(Task::resolve(None, None, slurm).unwrap(), Task { index: 3, count: 8 });
        let k8s = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "1".to_string());
        assert_eq!(Task::resolve(None, Some(5), k8s).unwrap(), Task { index: 1, count: 5 });
        assert!(Task::resolve(None, None, k8s).is_err());
        assert!(Task::resolve(Some(4), Some(4), none).is_err());
    }

    #[test]
    fn plan_is_deterministic_and_covers_every_item_once() {
        let item = |i: usize| Item {
            split: Split::Test,
            utt_id: format!("p/{i:05}"),
            video: PathBuf::new(),
            rel_path: String::new(),
        };
        let p = plan(vec![(Split::Test, (0..10).map(item).collect())], 4);
        assert_eq!(p.iter().map(|s| s.items.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
        assert_eq!(p[2].file, "test-00002.parquet");
        let t = [Task { index: 0, count: 2 }, Task { index: 1, count: 2 }];
        let owned: usize = p.iter().filter(|s| t.iter().any(|t| t.owns(s.index))).count();
        assert_eq!(owned, 3);
        assert!(t[0].owns(0) && t[1].owns(1) && t[0].owns(2));
    }
}
