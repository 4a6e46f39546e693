//! The cluster task of a batch process: which slice of a deterministic plan it runs, from
//! `--num-shards/--shard-index`, Slurm's array variables or a Kubernetes Indexed Job's
//! `JOB_COMPLETION_INDEX`. Item j of a plan belongs to task j mod count.

/// Cluster task flags or variables that do not make one task.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Flags or variables that do not name one task.
    #[error("{0}")]
    Flags(&'static str),
    /// A task variable that is not a number.
    #[error("{name}={value:?} is not a number")]
    Var {
        /// Variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// A task index out of range.
    #[error("task index {index} is not below the task count {count}")]
    Index {
        /// Index.
        index: usize,
        /// Count.
        count: usize,
    },
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
    ) -> Result<Self, TaskError> {
        let parse = |name: &str| -> Result<Option<usize>, TaskError> {
            env(name)
                .map(|v| v.trim().parse().map_err(|_| TaskError::Var { name: name.into(), value: v.clone() }))
                .transpose()
        };
        let (index, count) = match (index, count) {
            (Some(i), Some(n)) => (i, n),
            (Some(_), None) => return Err(TaskError::Flags("--shard-index needs --num-shards")),
            (None, flag_count) => {
                if let Some(i) = parse("SLURM_ARRAY_TASK_ID")? {
                    let n = flag_count.or(parse("SLURM_ARRAY_TASK_COUNT")?).ok_or(TaskError::Flags(
                        "SLURM_ARRAY_TASK_ID is set but neither --num-shards nor SLURM_ARRAY_TASK_COUNT is",
                    ))?;
                    (i, n)
                } else if let Some(i) = parse("JOB_COMPLETION_INDEX")? {
                    (
                        i,
                        flag_count.ok_or(TaskError::Flags(
                            "JOB_COMPLETION_INDEX is set: pass the completion count as --num-shards",
                        ))?,
                    )
                } else {
                    (0, flag_count.unwrap_or(1))
                }
            }
        };
        if count == 0 || index >= count {
            return Err(TaskError::Index { index, count });
        }
        Ok(Self { index, count })
    }

    /// Whether planned shard `j` is this task's.
    pub fn owns(&self, j: usize) -> bool {
        j % self.count == self.index
    }
}

/// `--num-shards K --shard-index i`, or the cluster's variables.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct TaskArgs {
    /// Number of cluster tasks (else SLURM_ARRAY_TASK_COUNT; with JOB_COMPLETION_INDEX, required).
    #[arg(long)]
    pub num_shards: Option<usize>,
    /// This task's index (else SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX).
    #[arg(long)]
    pub shard_index: Option<usize>,
}

impl TaskArgs {
    /// This process's task, from the flags or the environment ([`Task::resolve`]).
    pub fn task(&self) -> Result<Task, TaskError> {
        Task::resolve(self.shard_index, self.num_shards, |k| std::env::var(k).ok())
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
}
