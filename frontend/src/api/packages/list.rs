//! `GET /packages`: parameters, merging the installed and upgradable lists, filtering, sorting, paging.
//!
//! `status=installed` (default) lists every installed package, marked upgradable where a newer candidate
//! exists; `status=upgradable` only those; `status=all` adds what an upgrade would newly install
//! (`available`). Packages that are merely available in a repository are not listed (that would mean
//! enumerating whole repositories); they are reachable through `GET /packages/{name}`.

use super::glob::Glob;
use super::model::{self, PackageObject};
use crate::http::ApiError;
use crate::http::query::Query;
use lpa_protocol::{Backend, PackageRecord, UpgradablePackage};
use std::cmp::Ordering;
use std::collections::HashMap;

/// The parameters this endpoint accepts.
pub const PARAMETERS: &[&str] = &["name", "status", "limit", "offset", "sort", "order"];
/// Largest page.
pub const MAX_LIMIT: u64 = 1000;
/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u64 = 100;

/// Which packages to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Installed packages.
    Installed,
    /// Installed packages with a newer candidate.
    Upgradable,
    /// Installed packages and packages an upgrade would add.
    All,
}

/// Sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// By name.
    Name,
    /// By version (the host's own package manager's ordering), then name.
    Version,
    /// By installed size (unknown sizes first in ascending order), then name.
    Size,
}

/// Validated parameters of `GET /packages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// `name` glob.
    pub name: Option<Glob>,
    /// `status`.
    pub status: StatusFilter,
    /// `limit`, 1..=1000.
    pub limit: u64,
    /// `offset`.
    pub offset: u64,
    /// `sort`.
    pub sort: SortKey,
    /// `order=desc`.
    pub descending: bool,
}

impl ListParams {
    /// Validates the query.
    pub fn parse(query: &Query) -> Result<Self, ApiError> {
        query.only(PARAMETERS)?;
        let name = query.get("name").map(Glob::new).transpose()?;
        let status =
            match query.choice("status", &["installed", "upgradable", "all"], "installed")? {
                "upgradable" => StatusFilter::Upgradable,
                "all" => StatusFilter::All,
                _ => StatusFilter::Installed,
            };
        let sort = match query.choice("sort", &["name", "version", "size"], "name")? {
            "version" => SortKey::Version,
            "size" => SortKey::Size,
            _ => SortKey::Name,
        };
        let descending = query.choice("order", &["asc", "desc"], "asc")? == "desc";
        Ok(ListParams {
            name,
            status,
            limit: query.integer("limit", 1, MAX_LIMIT, DEFAULT_LIMIT)?,
            offset: query.integer("offset", 0, u64::MAX, 0)?,
            sort,
            descending,
        })
    }
}

impl StatusFilter {
    /// Whether `p` belongs in a listing with this filter.
    pub fn admits(self, p: &PackageObject) -> bool {
        match self {
            StatusFilter::Installed => p.status != "available",
            StatusFilter::Upgradable => p.status == "upgradable",
            StatusFilter::All => true,
        }
    }
}

/// Joins the two helper lists into package objects: every installed package (marked upgradable where an
/// update exists) plus every upgradable entry with no installed record. Unsorted and unfiltered, so one
/// merged list serves every query.
pub fn merge(installed: &[PackageRecord], upgradable: &[UpgradablePackage]) -> Vec<PackageObject> {
    let upgrades: HashMap<&str, &UpgradablePackage> =
        upgradable.iter().map(|u| (u.name.as_str(), u)).collect();
    let mut out: Vec<PackageObject> = installed
        .iter()
        .map(|r| model::installed(r, upgrades.get(r.name.as_str()).copied()))
        .collect();
    let known: std::collections::HashSet<&str> =
        installed.iter().map(|r| r.name.as_str()).collect();
    out.extend(
        upgradable
            .iter()
            .filter(|u| !known.contains(u.name.as_str()))
            .map(model::from_upgrade),
    );
    out
}

/// Applies the status and name filters, sorts, and cuts the page; returns the page (borrowed from
/// `packages`) and the total after filtering.
pub fn select<'a>(
    packages: &'a [PackageObject],
    params: &ListParams,
    backend: Backend,
) -> (Vec<&'a PackageObject>, u64) {
    let mut selected: Vec<&PackageObject> = packages
        .iter()
        .filter(|p| params.status.admits(p))
        .filter(|p| {
            params
                .name
                .as_ref()
                .is_none_or(|glob| glob.matches(&p.name))
        })
        .collect();
    selected.sort_by(|a, b| {
        let primary = match params.sort {
            SortKey::Name => Ordering::Equal,
            SortKey::Version => backend.compare_versions(&a.version, &b.version),
            SortKey::Size => a.size_bytes.cmp(&b.size_bytes),
        };
        let ord = primary
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.architecture.cmp(&b.architecture));
        if params.descending {
            ord.reverse()
        } else {
            ord
        }
    });
    let total = selected.len() as u64;
    let start = usize::try_from(params.offset)
        .unwrap_or(usize::MAX)
        .min(selected.len());
    let end = start
        .saturating_add(usize::try_from(params.limit).unwrap_or(usize::MAX))
        .min(selected.len());
    selected.truncate(end);
    selected.drain(..start);
    (selected, total)
}

#[cfg(test)]
mod tests;
