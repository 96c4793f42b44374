//! One handler per [`Operation`]: what to read, which table commands to ask the launcher for, and how
//! their output becomes an [`Outcome`]. Package-changing operations go to [`super::change::Changer`].

use super::change::{Changer, RequestCtx, request_stop};
use super::control::{Control, Stop};
use super::launcher_client::LauncherClient;
use crate::backend::apt::{UpgradableCache, policy, show, simulate};
use crate::pkgdb::dpkg::DpkgDb;
use crate::system::service::{self, ServiceManager};
use crate::system::{host, os_release, reboot};
use lpa_protocol::launcher::Invocation;
use lpa_protocol::{
    Backend, ExecFailure, HelperError, HostInfo, Operation, Outcome, PackageDetail, PackageName,
    PackageRecord, ServiceName,
};
use std::path::PathBuf;
use std::sync::Arc;

/// Everything the handlers need; shared by all connections.
pub struct Services {
    backend: Backend,
    package_root: PathBuf,
    launcher: LauncherClient,
    dpkg: Arc<DpkgDb>,
    upgradable: UpgradableCache,
    changer: Changer,
}

impl Services {
    /// Services for `backend` on `package_root`, running commands through `launcher`.
    pub fn new(backend: Backend, package_root: PathBuf, launcher: LauncherClient) -> Services {
        Services {
            dpkg: Arc::new(DpkgDb::new(&package_root)),
            changer: Changer::new(backend, package_root.clone(), launcher.clone()),
            backend,
            package_root,
            launcher,
            upgradable: UpgradableCache::default(),
        }
    }

    /// The backend this broker serves.
    pub fn backend(&self) -> Backend {
        self.backend
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
    /// because dpkg already started.
    pub async fn stop(&self, control: &Control, stop: Stop) -> Result<bool, HelperError> {
        request_stop(&self.launcher, control, stop).await
    }

    /// Handles one reading operation.
    pub async fn handle(&self, op: Operation) -> Result<Outcome, HelperError> {
        match op {
            Operation::Ping => Ok(Outcome::Pong),
            Operation::SystemInfo => self.system_info().await,
            Operation::ServiceStatus { name } => self.service_status(name).await,
            Operation::ListInstalled => Ok(Outcome::Installed(self.installed().await?.to_vec())),
            Operation::PackageDetail { name } => self.package_detail(name).await,
            Operation::ListUpgradable => self.list_upgradable().await,
            Operation::PackageStateStamp => Ok(Outcome::PackageStateStamp(
                simulate::Stamps::of(&self.package_root).fingerprint(),
            )),
            other => Err(HelperError::Unsupported {
                operation: other.kind().to_owned(),
                backend: self.backend,
            }),
        }
    }

    async fn blocking<T: Send + 'static>(
        f: impl FnOnce() -> Result<T, HelperError> + Send + 'static,
    ) -> Result<T, HelperError> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| HelperError::Internal {
                message: format!("worker failed: {e}"),
            })?
    }

    async fn installed(&self) -> Result<Arc<Vec<PackageRecord>>, HelperError> {
        let db = self.dpkg.clone();
        Self::blocking(move || db.installed()).await
    }

    async fn system_info(&self) -> Result<Outcome, HelperError> {
        let root = self.package_root.clone();
        let backend = self.backend;
        Self::blocking(move || {
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
        self.backend
            .check_name(&name)
            .map_err(|e| HelperError::Validation {
                message: e.to_string(),
            })?;
        let installed = self
            .installed()
            .await?
            .iter()
            .find(|p| p.name == name.as_str())
            .cloned();
        let shown = self
            .launcher
            .exec(Invocation::AptCacheShow { name: name.clone() })
            .await?;
        let mut candidate = match show::parse_show(&shown) {
            show::ShowResult::Found(r) => Some(*r),
            show::ShowResult::NotFound => None,
            show::ShowResult::Failed => return Err(exec_error(&shown)),
        };
        if let Some(c) = candidate.as_mut() {
            let pol = self
                .launcher
                .exec(Invocation::AptCachePolicy { name: name.clone() })
                .await?;
            if pol.exit_code == Some(0) {
                let p = policy::parse_policy(&pol.stdout);
                c.source = p.candidate_sources.first().cloned();
            }
        }
        if installed.is_none() && candidate.is_none() {
            return Err(HelperError::PackageNotFound {
                name: name.as_str().to_owned(),
            });
        }
        Ok(Outcome::PackageDetail(PackageDetail {
            installed,
            candidate,
        }))
    }

    async fn list_upgradable(&self) -> Result<Outcome, HelperError> {
        let stamps = simulate::Stamps::of(&self.package_root);
        let list = self
            .upgradable
            .get_or_compute(stamps, || async {
                let out = self
                    .launcher
                    .exec(Invocation::AptSimulateDistUpgrade)
                    .await?;
                if out.exit_code != Some(0) {
                    return Err(exec_error(&out));
                }
                Ok(simulate::parse_simulation(&out.stdout))
            })
            .await?;
        Ok(Outcome::Upgradable(list.to_vec()))
    }
}

fn exec_error(out: &lpa_protocol::launcher::ExecOutput) -> HelperError {
    HelperError::Exec(ExecFailure {
        program: out.program.clone(),
        exit_code: out.exit_code,
        stderr: service::tail(&out.stderr),
    })
}
