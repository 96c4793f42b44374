//! One handler per [`Operation`]: what to read, which table commands to ask the launcher for, and how
//! their output becomes an [`Outcome`]. Package reads go to the host's [`PackageManager`];
//! package-changing operations go to [`super::change::Changer`].

use super::change::{Changer, RequestCtx, request_stop};
use super::control::{Control, Stop};
use super::launcher_client::LauncherClient;
use crate::backend::PackageManager;
use crate::backend::support::blocking;
use crate::system::service::{self, ServiceManager};
use crate::system::{host, os_release, reboot};
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{Backend, HelperError, HostInfo, Operation, Outcome, PackageName, ServiceName};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything the handlers need; shared by all connections.
pub struct Services {
    package_root: PathBuf,
    launcher: LauncherClient,
    manager: Arc<dyn PackageManager>,
    changer: Changer,
}

impl Services {
    /// Services for the package manager `manager` on `package_root`, running other commands (service
    /// status, reboot) through `launcher`; changes wait out a busy package-manager lock for at most
    /// `lock_timeout`.
    pub fn new(
        manager: Arc<dyn PackageManager>,
        package_root: PathBuf,
        launcher: LauncherClient,
        lock_timeout: Duration,
    ) -> Services {
        Services {
            changer: Changer::new(manager.clone(), launcher.clone(), lock_timeout),
            manager,
            package_root,
            launcher,
        }
    }

    /// The backend this broker serves.
    pub fn backend(&self) -> Backend {
        self.manager.backend()
    }

    /// Handles one package-changing operation ([`Operation::changes_host`]), streaming its events.
    pub async fn handle_change(
        &self,
        op: Operation,
        ctx: &RequestCtx,
    ) -> Result<Outcome, HelperError> {
        self.changer.handle(op, ctx).await
    }

    /// Applies a `Cancel` or `Abort` to the request behind `control`; `false` when a `Cancel` is refused
    /// because the package manager already started changing the system.
    pub async fn stop(&self, control: &Control, stop: Stop) -> Result<bool, HelperError> {
        request_stop(&self.launcher, control, stop).await
    }

    /// Handles one reading operation.
    pub async fn handle(&self, op: Operation) -> Result<Outcome, HelperError> {
        match op {
            Operation::Ping => Ok(Outcome::Pong),
            Operation::Confinement => crate::confine::self_report(),
            Operation::SystemInfo => self.system_info().await,
            Operation::ServiceStatus { name } => self.service_status(name).await,
            Operation::ListInstalled => {
                Ok(Outcome::Installed(self.manager.installed().await?.to_vec()))
            }
            Operation::PackageDetail { name } => self.package_detail(name).await,
            Operation::ListUpgradable => Ok(Outcome::Upgradable(
                self.manager.upgradable(false).await?.to_vec(),
            )),
            Operation::PackageStateStamp => {
                Ok(Outcome::PackageStateStamp(self.manager.state_stamp()))
            }
            other => Err(HelperError::Unsupported {
                operation: other.kind().to_owned(),
                backend: self.backend(),
            }),
        }
    }

    async fn system_info(&self) -> Result<Outcome, HelperError> {
        let root = self.package_root.clone();
        let backend = self.backend();
        blocking(move || {
            let os = os_release::read(&root).map_err(|e| HelperError::Internal {
                message: format!("os-release of {}: {e}", root.display()),
            })?;
            let kernel = host::kernel();
            Ok(Outcome::SystemInfo(HostInfo {
                hostname: host::hostname(),
                os,
                kernel: kernel.release,
                architecture: kernel.machine,
                uptime_seconds: host::uptime_seconds(std::path::Path::new("/proc/uptime")),
                package_manager: backend,
                reboot_required: reboot::reboot_required(&root),
            }))
        })
        .await
    }

    async fn service_status(&self, name: ServiceName) -> Result<Outcome, HelperError> {
        let status = match service::detect(std::path::Path::new("/"))? {
            ServiceManager::Systemd => {
                let out = self
                    .launcher
                    .exec(Invocation::SystemctlShow { name: name.clone() })
                    .await?;
                service::parse_systemctl_show(name.as_str(), &out)?
            }
            ServiceManager::OpenRc => {
                let out = self
                    .launcher
                    .exec(Invocation::RcServiceStatus { name: name.clone() })
                    .await?;
                service::parse_rc_status(name.as_str(), &out)?
            }
        };
        Ok(Outcome::ServiceStatus(status))
    }

    async fn package_detail(&self, name: PackageName) -> Result<Outcome, HelperError> {
        self.backend()
            .check_name(&name)
            .map_err(|e| HelperError::Validation {
                message: e.to_string(),
            })?;
        let mut detail = self.manager.detail(name.clone()).await?;
        // Only a record of exactly this name counts: a lookup tool may widen the name (dnf's repoquery
        // reads `hello-1.0` as hello at 1.0, pacman's `-Si` may answer a provide), and the frontend refuses
        // a change at request time on this answer (issue 11).
        detail.installed.take_if(|r| r.name != name.as_str());
        detail.candidate.take_if(|r| r.name != name.as_str());
        if detail.installed.is_none() && detail.candidate.is_none() {
            return Err(HelperError::PackageNotFound {
                name: name.as_str().to_owned(),
            });
        }
        Ok(Outcome::PackageDetail(detail))
    }
}
