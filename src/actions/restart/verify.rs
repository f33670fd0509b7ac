//! The verification of a restart: the unit is active, every probe passes, and the new
//! process wrote log lines of its own (what the old one wrote while stopped does not count).

use std::time::SystemTime;

use crate::actions::restart::systemctl;
use crate::actions::restart::task::RestartTask;
use crate::config::duration::format_duration;
use crate::config::RestartMethod;

impl RestartTask {
    /// `Ok(evidence)` when the new process is healthy: the unit is active, every probe
    /// passes (a heartbeat file written since the old process was gone at `stopped_at`),
    /// and it wrote log lines of its own; else `Err(what is wrong)`.
    pub(super) async fn verify(
        &self,
        epoch: u32,
        stopped_at: SystemTime,
        main_pid: Option<u32>,
    ) -> Result<String, String> {
        let mut problems = Vec::new();
        let mut evidence = Vec::new();
        if let (RestartMethod::Systemd { user, .. }, Some(unit)) = (&self.method, &self.unit) {
            match systemctl::unit_state(unit, user.as_deref()).await {
                Ok(s) if s.active_state == "active" => {}
                Ok(s) => problems.push(format!("{unit} is {} ({})", s.active_state, s.sub_state)),
                Err(e) => problems.push(e.to_string()),
            }
        }
        for p in &self.probes {
            let v = crate::probes::check_since(p, &self.client, Some(stopped_at)).await;
            if v.healthy {
                evidence.push(format!("probe {} passes", p.name));
            } else {
                problems.push(format!("probe {}: {}", p.name, v.detail));
            }
        }
        let process = match main_pid {
            Some(pid) => format!("the new process (PID {pid})"),
            None => "the new process".to_string(),
        };
        if self.has_logs {
            match self.activity.new_process_lines(self.index, epoch) {
                0 => problems.push(format!(
                    "{process} wrote no log line within {} (lines the old one wrote while it was stopped do not count)",
                    format_duration(self.verify_after)
                )),
                1 => evidence.push(format!("{process} wrote 1 log line since its start")),
                n => evidence.push(format!("{process} wrote {n} log lines since its start")),
            }
        } else if self.probes.is_empty() {
            evidence.push(format!("{process} is active"));
        }
        if problems.is_empty() {
            Ok(evidence.join(", "))
        } else {
            Err(problems.join("; "))
        }
    }
}
