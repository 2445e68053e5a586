//! A real single-node Slurm (Debian's slurm-wlm: slurmctld + slurmd) with its own munged, started as
//! root under a temporary directory without systemd, and stopped by `Drop` whatever happens.
//!
//! Everything is private to the test: the munge key and socket (passed to Slurm with
//! `AuthInfo=socket=`), free random ports, state and spool directories, and the controller on
//! 127.0.0.1 (no name lookups). Without accounting, `jobcomp/filetxt` records every task's final
//! state and exit code, which the test polls at a short interval (`sbatch --wait` polls every 32 s).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the cluster cannot run here (not root, packages missing): the test is skipped, loudly.
pub struct Skip(pub String);

/// The running daemons; killed on drop.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub jobcomp: PathBuf,
    children: Vec<(&'static str, Child)>,
}

fn find(prog: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin"])
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file());
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Terminal states in the jobcomp file.
const FINAL: [&str; 7] = [
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
];

impl Cluster {
    /// Starts munged, slurmctld and slurmd with `cpus` CPUs on one node, and waits until the node
    /// is idle.
    pub fn start(cpus: usize) -> Result<Cluster, Skip> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(Skip(
                "not running as root (slurmd and munged need it)".into(),
            ));
        }
        let mut bins = BTreeMap::new();
        for p in [
            "munged",
            "mungekey",
            "slurmctld",
            "slurmd",
            "sbatch",
            "squeue",
            "scontrol",
            "scancel",
        ] {
            match find(p) {
                Some(b) => bins.insert(p, b),
                None => {
                    return Err(Skip(format!(
                        "{p} not found: install slurm-wlm and munge (scripts/setup-debian.sh)"
                    )))
                }
            };
        }
        let dir = tempfile::Builder::new()
            .prefix("viclip-slurm")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        for sub in ["munge", "state", "spool", "log"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        let key = d.join("munge/munge.key");
        let ok = Command::new(&bins["mungekey"])
            .args(["--create", "--force", "--keyfile"])
            .arg(&key)
            .status()
            .expect("mungekey");
        assert!(ok.success(), "mungekey --create failed");
        let mut c = Cluster {
            conf: d.join("slurm.conf"),
            jobcomp: d.join("jobcomp.txt"),
            children: Vec::new(),
            dir,
        };
        let d = c.dir.path().to_path_buf();
        let sock = d.join("munge/socket");
        let log = |name: &str| {
            std::fs::File::create(d.join("log").join(name))
                .map(Stdio::from)
                .expect("log file")
        };
        let munged = Command::new(&bins["munged"])
            .args(["--foreground", "--force"])
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", sock.display()))
            .arg(format!("--pid-file={}", d.join("munge/pid").display()))
            .arg(format!("--seed-file={}", d.join("munge/seed").display()))
            .arg(format!("--log-file={}", d.join("log/munged.log").display()))
            .stdout(log("munged.out"))
            .stderr(log("munged.err"))
            .spawn()
            .expect("munged");
        c.children.push(("munged", munged));
        c.wait_for("munge socket", || sock.exists());

        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_else(|_| "localhost".into());
        let host = host.trim().split('.').next().unwrap_or("localhost");
        let mem_mb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(1024, |kb| kb / 1024);
        let p = |s: &str| d.join(s).display().to_string();
        // The controller's name must be this host's; the node's is ours (slurmd -N). CPUs beyond
        // the hardware's are accepted (config_overrides) so that every task of the test's arrays
        // runs at once; task/none and proctrack/linuxproc need no cgroups.
        let conf = format!(
            "ClusterName=viclipt\nSlurmctldHost={host}(127.0.0.1)\nSlurmctldPort={}\nSlurmdPort={}\n\
             AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket={}\nSlurmUser=root\nSlurmdUser=root\n\
             StateSaveLocation={}\nSlurmdSpoolDir={}\nSlurmctldPidFile={}\nSlurmdPidFile={}\n\
             SlurmctldLogFile={}\nSlurmdLogFile={}\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
             MpiDefault=none\nSwitchType=switch/none\nJobCompType=jobcomp/filetxt\nJobCompLoc={}\n\
             AccountingStorageType=accounting_storage/none\nJobAcctGatherType=jobacct_gather/none\n\
             SchedulerType=sched/builtin\nSelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\n\
             ReturnToService=2\nKillWait=2\nMailProg=/bin/true\nSlurmdParameters=config_overrides\n\
             NodeName=viclipt NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN\n\
             PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            free_port(),
            free_port(),
            sock.display(),
            p("state"),
            p("spool"),
            p("slurmctld.pid"),
            p("slurmd.pid"),
            p("log/slurmctld.log"),
            p("log/slurmd.log"),
            c.jobcomp.display(),
        );
        std::fs::write(&c.conf, conf).expect("slurm.conf");
        let ctld = Command::new(&bins["slurmctld"])
            .args(["-D", "-i", "-f"])
            .arg(&c.conf)
            .env("SLURM_CONF", &c.conf)
            .stdout(log("slurmctld.out"))
            .stderr(log("slurmctld.err"))
            .spawn()
            .expect("slurmctld");
        c.children.push(("slurmctld", ctld));
        let slurmd = Command::new(&bins["slurmd"])
            .args(["-D", "-N", "viclipt", "-f"])
            .arg(&c.conf)
            .env("SLURM_CONF", &c.conf)
            .stdout(log("slurmd.out"))
            .stderr(log("slurmd.err"))
            .spawn()
            .expect("slurmd");
        c.children.push(("slurmd", slurmd));
        c.wait_for("the node to be idle", || {
            c.cmd("sinfo")
                .args(["-h", "-o", "%T"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
        Ok(c)
    }

    /// Polls `cond` every 50 ms for up to 60 s; panics with the daemons' logs on timeout.
    pub fn wait_for(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let t = Instant::now();
        while !cond() {
            if t.elapsed() > Duration::from_secs(60) {
                panic!("timed out waiting for {what}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The tails of the daemons' logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for f in [
            "munged.err",
            "slurmctld.err",
            "slurmctld.log",
            "slurmd.err",
            "slurmd.log",
        ] {
            let text =
                std::fs::read_to_string(self.dir.path().join("log").join(f)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            s.push_str(&format!("--- {f}\n"));
            for l in tail.iter().rev() {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    /// A Slurm client command talking to this cluster.
    pub fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(find(prog).unwrap_or_else(|| prog.into()));
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// Runs a client command, panicking with its stderr on failure; returns its stdout.
    pub fn run(&self, prog: &str, args: &[&str]) -> String {
        let o = self.cmd(prog).args(args).output().expect(prog);
        assert!(
            o.status.success(),
            "{prog} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `sbatch --parsable ARGS` with extra environment; returns the job id.
    pub fn sbatch(&self, args: &[&str], env: &[(&str, String)]) -> u64 {
        let mut c = self.cmd("sbatch");
        c.arg("--parsable").args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().expect("sbatch");
        assert!(
            o.status.success(),
            "sbatch {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout);
        text.trim()
            .split(';')
            .next()
            .and_then(|j| j.parse().ok())
            .unwrap_or_else(|| panic!("sbatch printed {text:?}"))
    }

    /// The last jobcomp record of each task of array job `job`: task id -> (state, exit code).
    pub fn finished(&self, job: u64) -> BTreeMap<u64, (String, String)> {
        let text = std::fs::read_to_string(&self.jobcomp).unwrap_or_default();
        let mut out = BTreeMap::new();
        for line in text.lines() {
            let kv: BTreeMap<&str, &str> = line
                .split_whitespace()
                .filter_map(|f| f.split_once('='))
                .collect();
            let (Some(j), Some(t), Some(state)) = (
                kv.get("ArrayJobId"),
                kv.get("ArrayTaskId"),
                kv.get("JobState"),
            ) else {
                continue;
            };
            if j.parse::<u64>().ok() != Some(job) || !FINAL.contains(state) {
                continue;
            }
            if let Ok(t) = t.parse::<u64>() {
                let code = kv.get("ExitCode").unwrap_or(&"?").to_string();
                out.insert(t, (state.to_string(), code));
            }
        }
        out
    }

    /// Whether `job_task` (e.g. `12_3`) is still queued or running.
    pub fn queued(&self, job_task: &str) -> bool {
        let o = self
            .cmd("squeue")
            .args(["-h", "-j", job_task, "-o", "%T"])
            .output();
        o.is_ok_and(|o| !String::from_utf8_lossy(&o.stdout).trim().is_empty())
    }

    /// The squeue state of `job_task` (`PENDING`, `RUNNING`, ...), empty when gone.
    pub fn state(&self, job_task: &str) -> String {
        self.cmd("squeue")
            .args(["-h", "-j", job_task, "-o", "%T"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// Waits until tasks `tasks` of `job` have a final record and are gone from the queue; returns
    /// their (state, exit code).
    pub fn wait_done(
        &self,
        job: u64,
        tasks: &[u64],
        limit: Duration,
    ) -> BTreeMap<u64, (String, String)> {
        let t0 = Instant::now();
        loop {
            let f = self.finished(job);
            if tasks.iter().all(|t| f.contains_key(t))
                && tasks.iter().all(|t| !self.queued(&format!("{job}_{t}")))
            {
                return f;
            }
            if t0.elapsed() > limit {
                panic!(
                    "job {job} tasks {tasks:?} not finished after {limit:?}: {f:?}\n{}\n{}",
                    self.run("squeue", &[]),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Cancel what is left (its processes are children of slurmd's step daemons, not ours),
        // give them a moment to go, then stop the daemons in reverse order of start.
        let _ = self.cmd("scancel").args(["--user", "root"]).status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10)
            && self.cmd("squeue").arg("-h").output().is_ok_and(|o| {
                o.status.success() && !String::from_utf8_lossy(&o.stdout).trim().is_empty()
            })
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
