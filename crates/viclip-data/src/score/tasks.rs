//! Which shards a process takes when a table is split across processes (a Slurm job array, a
//! Kubernetes Indexed Job, one `srun` task per GPU, or explicit flags), and the run record that keeps
//! that split fixed across resubmissions.
//!
//! The rule is static: the table's shards are dealt round-robin to `shares` shares (shard `k` to
//! share `k % shares`), and each process scores the missing shards of its one share. The number of
//! shares, and how Slurm array task ids map to shares, are fixed by the first split process that
//! starts in the output directory: it writes `OUT/split.json` ([`super::record::RunRecord`]) once
//! (create-new, so of concurrent first tasks one wins and the others read its record). A task resubmitted alone or in a sparse array
//! (`sbatch --array=1,3`) reads the record and scores its own share, never another task's: a task's
//! share does not depend on which other tasks run, so nothing is scored twice by design and nothing is
//! left out.

use std::path::Path;

use crate::{Error, Result, Setting};

/// One share of the table: shards `k` with `k % count == index`, so `count` processes with indices
/// `0..count` cover every shard exactly once. `{index: 0, count: 1}` is the whole table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSelection {
    /// This share's index, `0..count`.
    pub index: u64,
    /// The number of shares the table is split into (>= 1).
    pub count: u64,
}

impl Default for ShardSelection {
    fn default() -> Self {
        ShardSelection { index: 0, count: 1 }
    }
}

impl ShardSelection {
    /// Checks `index < count`, `count >= 1`.
    pub fn new(index: u64, count: u64) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::InvalidInput(format!(
                "shard index {index} of {count} processes: need 0 <= index < count (count >= 1)"
            )));
        }
        Ok(ShardSelection { index, count })
    }

    /// The share the flags and the process environment give when no run record exists yet (see
    /// [`ShareRequest::first_start`]).
    pub fn resolve(index: Option<u64>, count: Option<u64>) -> Result<Self> {
        Self::resolve_with(index, count, |k| std::env::var(k).ok())
    }

    /// [`resolve`](Self::resolve) with the environment given as a function (for tests).
    pub fn resolve_with(
        index: Option<u64>,
        count: Option<u64>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let req = ShareRequest::from_env(index, count, env)?;
        let plan = req.first_start()?;
        Ok(match req.task_id() {
            None => ShardSelection::default(),
            Some(t) => ShardSelection::new(plan.share_of(&req, t)?, plan.shares)?,
        })
    }

    /// Whether shard `k` is this process's.
    pub fn owns(&self, k: u64) -> bool {
        k % self.count == self.index
    }

    /// Shards of `0..total` in this share, in Slurm's range notation (`3-39:4`, `5`, or empty).
    pub fn describe(&self, total: u64) -> String {
        let Some(last) = (0..total).rev().find(|&k| self.owns(k)) else {
            return "none".into();
        };
        match (self.index, self.count) {
            (first, _) if first == last => format!("{first}"),
            (first, 1) => format!("{first}-{last}"),
            (first, step) => format!("{first}-{last}:{step}"),
        }
    }
}

/// The scheduler's view of this process, from its environment variables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scheduler {
    /// No scheduler split: one process.
    #[default]
    None,
    /// A Slurm job array task (`SLURM_ARRAY_*`).
    SlurmArray {
        /// `SLURM_ARRAY_JOB_ID`, when set.
        job_id: Option<u64>,
        /// `SLURM_ARRAY_TASK_ID`: this task's id in the array.
        task_id: u64,
        /// `SLURM_ARRAY_TASK_MIN` (0 when unset): the array's lowest task id.
        min: u64,
        /// `SLURM_ARRAY_TASK_MAX`: the array's highest task id, when set.
        max: Option<u64>,
        /// `SLURM_ARRAY_TASK_STEP` (1 when unset, at least 1): the step between task ids.
        step: u64,
        /// `SLURM_ARRAY_TASK_COUNT` (0 when unset): the number of tasks in the array.
        count: u64,
    },
    /// A Kubernetes Indexed Job pod (`JOB_COMPLETION_INDEX`).
    Kubernetes {
        /// `JOB_COMPLETION_INDEX`: this pod's index in the Job.
        index: u64,
    },
    /// One of the tasks of an `srun` step (`SLURM_PROCID` of `SLURM_STEP_NUM_TASKS`), outside an array.
    SlurmTasks {
        /// `SLURM_PROCID`: this task's rank in the step, `0..ntasks`.
        procid: u64,
        /// `SLURM_STEP_NUM_TASKS` (else `SLURM_NTASKS`): the step's task count, > 1.
        ntasks: u64,
    },
}

/// What the flags and the environment ask for, before the run record is consulted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareRequest {
    /// This process's share, explicitly (the CLI's `--shard-index`).
    pub shard_index: Option<u64>,
    /// The number of shares (must match the record's when one exists; the CLI's `--num-shards`).
    pub num_shards: Option<u64>,
    /// The scheduler this process runs under, from its environment variables.
    pub scheduler: Scheduler,
    /// `SLURM_RESTART_COUNT` (requeues of this task), for the log.
    pub restart_count: Option<u64>,
}

/// The split a first process would record: shares and the array task id mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPlan {
    /// The number of shares the table is split into.
    pub shares: u64,
    /// The process id (array task id, index, procid or shard index) of share 0.
    pub first_task: u64,
    /// Difference between the ids of consecutive shares (the array's step; 1 otherwise).
    pub task_step: u64,
    /// Where the split comes from: `flags`, `whole`, `slurm-array`, `kubernetes` or `slurm-tasks`.
    pub source: &'static str,
    /// The Slurm array job id (`SLURM_ARRAY_JOB_ID`), when running in one.
    pub array_job_id: Option<u64>,
}

impl SplitPlan {
    /// Share of the process whose id (array task id, index, procid or `shard_index`) is `t`.
    fn share_of(&self, req: &ShareRequest, t: u64) -> Result<u64> {
        share_of(req, t, self.first_task, self.task_step, self.shares, None)
    }
}

/// Share of process id `t` under a split; `record` names the file in errors.
pub(crate) fn share_of(
    req: &ShareRequest,
    t: u64,
    first: u64,
    step: u64,
    shares: u64,
    record: Option<&Path>,
) -> Result<u64> {
    // Only a record that is there is named: a plan or a first process has none yet.
    let from = record
        .filter(|p| p.is_file())
        .map_or(String::new(), |p| format!(" (fixed by {})", p.display()));
    let s = match (&req.scheduler, req.shard_index) {
        (Scheduler::SlurmArray { .. }, None) => {
            let last = first + step * shares.saturating_sub(1);
            if t < first || (t - first) % step != 0 {
                return Err(Error::InvalidInput(format!(
                    "Slurm array task {t} is not in the run's array {first}-{last}:{step}{from}; \
                     resubmit with task ids from that array (`score::status` lists the missing ones)"
                )));
            }
            (t - first) / step
        }
        _ => t,
    };
    if s >= shares {
        return Err(Error::setting(
            Setting::ShardIndex,
            s,
            format!(
                "process {t} is share {s}, but the run has {shares} shares{from}; use task ids \
                 or share indexes below that, or a new output directory"
            ),
        ));
    }
    Ok(s)
}

/// A non-negative integer variable, `None` when unset or blank.
fn num(env: &dyn Fn(&str) -> Option<String>, k: &str) -> Result<Option<u64>> {
    env(k)
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| Error::InvalidInput(format!("{k}={v} is not a non-negative integer")))
        })
        .transpose()
}

impl ShareRequest {
    /// The flags and the scheduler variables of `env` (see `docs/score.md` for the precedence).
    pub fn from_env(
        shard_index: Option<u64>,
        num_shards: Option<u64>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let env: &dyn Fn(&str) -> Option<String> = &env;
        if num_shards == Some(0) {
            return Err(Error::setting(Setting::NumShards, 0, "must be at least 1"));
        }
        let scheduler = if let Some(task_id) = num(env, "SLURM_ARRAY_TASK_ID")? {
            if num(env, "SLURM_STEP_NUM_TASKS")?.is_some_and(|n| n > 1) && shard_index.is_none() {
                return Err(Error::InvalidInput(format!(
                    "Slurm array task {task_id} runs several srun tasks: each would score the same share; \
                     run one process per array task (or give each process its share index and the number of shares)"
                )));
            }
            let min = num(env, "SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            if task_id < min {
                return Err(Error::InvalidInput(format!(
                    "SLURM_ARRAY_TASK_ID {task_id} is below SLURM_ARRAY_TASK_MIN {min}"
                )));
            }
            Scheduler::SlurmArray {
                job_id: num(env, "SLURM_ARRAY_JOB_ID")?,
                task_id,
                min,
                max: num(env, "SLURM_ARRAY_TASK_MAX")?,
                step: num(env, "SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1),
                count: num(env, "SLURM_ARRAY_TASK_COUNT")?.unwrap_or(0),
            }
        } else if let Some(index) = num(env, "JOB_COMPLETION_INDEX")? {
            Scheduler::Kubernetes { index }
        } else if let (Some(_), Some(procid)) =
            (num(env, "SLURM_STEP_ID")?, num(env, "SLURM_PROCID")?)
        {
            // Only inside an srun step: a batch script's own SLURM_PROCID is 0 of the job's
            // SLURM_NTASKS, and a lone process there must take the whole table.
            let ntasks = match num(env, "SLURM_STEP_NUM_TASKS")? {
                Some(n) => n,
                None => num(env, "SLURM_NTASKS")?.unwrap_or(1),
            };
            if ntasks > 1 {
                Scheduler::SlurmTasks { procid, ntasks }
            } else {
                Scheduler::None
            }
        } else {
            Scheduler::None
        };
        Ok(ShareRequest {
            shard_index,
            num_shards,
            scheduler,
            restart_count: num(env, "SLURM_RESTART_COUNT")?,
        })
    }

    /// [`from_env`](Self::from_env) with the process's environment.
    pub fn from_process_env(shard_index: Option<u64>, num_shards: Option<u64>) -> Result<Self> {
        Self::from_env(shard_index, num_shards, |k| std::env::var(k).ok())
    }

    /// This process's id: `shard_index`, else the array task id, completion index or procid;
    /// `None` for a process that is not one of several.
    pub fn task_id(&self) -> Option<u64> {
        self.shard_index.or(match self.scheduler {
            Scheduler::None => None,
            Scheduler::SlurmArray { task_id, .. } => Some(task_id),
            Scheduler::Kubernetes { index } => Some(index),
            Scheduler::SlurmTasks { procid, .. } => Some(procid),
        })
    }

    /// The split this process records when it is the first to start: `num_shards`, else the
    /// array's task count (a range `min-max:step`; task id `t` is share `(t - min) / step`), the
    /// step's task count, or one share.
    pub fn first_start(&self) -> Result<SplitPlan> {
        let plan = |shares, first_task, task_step, source, array_job_id| SplitPlan {
            shares,
            first_task,
            task_step,
            source,
            array_job_id,
        };
        let job = match &self.scheduler {
            Scheduler::SlurmArray { job_id, .. } => *job_id,
            _ => None,
        };
        if self.shard_index.is_some() {
            let Some(n) = self.num_shards else {
                return Err(Error::setting(
                    Setting::ShardIndex,
                    self.shard_index.unwrap_or(0),
                    "given without the number of shares: give both",
                ));
            };
            return Ok(plan(n, 0, 1, "flags", job));
        }
        match (&self.scheduler, self.num_shards) {
            (Scheduler::None, None) => Ok(plan(1, 0, 1, "whole", None)),
            (Scheduler::None, Some(n)) => Err(Error::setting(
                Setting::NumShards,
                n,
                "given without a share index: give it too (or run inside a Slurm job array, a \
                 Kubernetes Indexed Job or an srun step)",
            )),
            // With --num-shards, array task ids are the shares themselves (--array=0-63 --num-shards 64).
            (Scheduler::SlurmArray { .. }, Some(n)) => Ok(plan(n, 0, 1, "slurm-array", job)),
            (
                Scheduler::SlurmArray {
                    min,
                    max,
                    step,
                    count,
                    ..
                },
                None,
            ) => {
                let span = max.map(|m| (m.saturating_sub(*min)) / step + 1);
                if *count == 0 || span.is_some_and(|s| s != *count) {
                    return Err(Error::InvalidInput(format!(
                        "this is the first task in OUT, and its array (tasks {min}-{}, {count} of them) \
                         is not a range min-max[:step]: the other tasks' shares cannot be known; submit \
                         the first array as a range (sbatch --array=0-63), or give the number of shares (task id t \
                         is then share t)",
                        max.unwrap_or(*min)
                    )));
                }
                Ok(plan(*count, *min, *step, "slurm-array", job))
            }
            (Scheduler::Kubernetes { index }, None) => Err(Error::InvalidInput(format!(
                "JOB_COMPLETION_INDEX={index} without a number of shares: give the number \
                 of shares, the Job's completions"
            ))),
            (Scheduler::Kubernetes { .. }, Some(n)) => Ok(plan(n, 0, 1, "kubernetes", None)),
            (Scheduler::SlurmTasks { ntasks, .. }, n) => {
                Ok(plan(n.unwrap_or(*ntasks), 0, 1, "slurm-tasks", None))
            }
        }
    }

    /// What this process is, for the log: `Slurm array job 12 task 3 (restart 0)`.
    pub fn describe(&self) -> String {
        let restart = self
            .restart_count
            .map_or(String::new(), |r| format!(", SLURM_RESTART_COUNT={r}"));
        let who = match &self.scheduler {
            Scheduler::None => "one process".to_string(),
            Scheduler::SlurmArray {
                job_id, task_id, ..
            } => match job_id {
                Some(j) => format!("Slurm array job {j} task {task_id}"),
                None => format!("Slurm array task {task_id}"),
            },
            Scheduler::Kubernetes { index } => format!("JOB_COMPLETION_INDEX={index}"),
            Scheduler::SlurmTasks { procid, ntasks } => {
                format!("srun task SLURM_PROCID={procid} of {ntasks}")
            }
        };
        match (self.shard_index, &self.scheduler) {
            (Some(i), Scheduler::None) => format!("shard index {i}{restart}"),
            (Some(i), _) => format!("shard index {i} ({who}{restart})"),
            (None, _) => format!("{who}{restart}"),
        }
    }
}
