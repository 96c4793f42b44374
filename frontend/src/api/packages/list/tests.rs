use super::*;

fn rec(name: &str, version: &str, size: Option<u64>) -> PackageRecord {
    PackageRecord {
        name: name.into(),
        version: version.into(),
        architecture: "amd64".into(),
        size_bytes: size,
        ..PackageRecord::default()
    }
}

fn up(name: &str, current: Option<&str>, available: &str) -> UpgradablePackage {
    UpgradablePackage {
        name: name.into(),
        current_version: current.map(Into::into),
        available_version: available.into(),
        architecture: Some("amd64".into()),
        sources: vec!["bookworm-security".into()],
        security: true,
        advisory: None,
    }
}

fn params(raw: &str) -> ListParams {
    ListParams::parse(&Query::parse(Some(raw)).unwrap()).unwrap()
}

fn fixture() -> (Vec<PackageRecord>, Vec<UpgradablePackage>) {
    (
        vec![
            rec("demo-app", "1.0", Some(300)),
            rec("demo-hello", "1.10", Some(100)),
            rec("demo-lib", "1.9", None),
            rec("zlib1g", "1:1.2.13", Some(200)),
        ],
        vec![
            up("demo-hello", Some("1.10"), "1.11"),
            up("demo-new-dep", None, "0.1"),
        ],
    )
}

fn names<P: std::borrow::Borrow<PackageObject>>(page: &[P]) -> Vec<&str> {
    page.iter().map(|p| p.borrow().name.as_str()).collect()
}

#[test]
fn defaults_are_installed_name_asc_limit_100_offset_0() {
    let p = params("");
    assert_eq!(p.status, StatusFilter::Installed);
    assert_eq!(p.sort, SortKey::Name);
    assert!(!p.descending);
    assert_eq!((p.limit, p.offset), (100, 0));
    assert_eq!(p.name, None);
    assert_eq!(params("name=&status=&limit=&offset=&sort=&order="), p);
}

#[test]
fn invalid_values_and_unknown_parameters_are_invalid_request_naming_the_parameter() {
    for (raw, param) in [
        ("status=broken", "status"),
        ("sort=colour", "sort"),
        ("order=up", "order"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("name=a/b", "name"),
        ("page=2", "page"),
    ] {
        let err = ListParams::parse(&Query::parse(Some(raw)).unwrap()).unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST", "{raw}");
        assert!(
            err.to_string().contains(&format!("\"{param}\"")),
            "{raw}: {err}"
        );
    }
}

#[test]
fn installed_marks_upgradable_and_leaves_out_new_packages() {
    let (i, u) = fixture();
    let all = filtered(&i, &u, StatusFilter::Installed);
    assert_eq!(all.len(), 4);
    let hello = all.iter().find(|p| p.name == "demo-hello").unwrap();
    assert_eq!(hello.status, "upgradable");
    assert_eq!(hello.upgradable, Some(true));
    assert_eq!(hello.available_version.as_deref(), Some("1.11"));
    let lib = all.iter().find(|p| p.name == "demo-lib").unwrap();
    assert_eq!(lib.status, "installed");
    assert_eq!(lib.available_version, None);
}

#[test]
fn upgradable_filter_keeps_only_upgradable_installed_packages() {
    let (i, u) = fixture();
    let list = filtered(&i, &u, StatusFilter::Upgradable);
    assert_eq!(names(&list), ["demo-hello"]);
}

#[test]
fn all_is_installed_union_upgradable() {
    let (i, u) = fixture();
    let list = filtered(&i, &u, StatusFilter::All);
    assert_eq!(list.len(), 5);
    let new = list.iter().find(|p| p.name == "demo-new-dep").unwrap();
    assert_eq!(new.status, "available");
    assert_eq!(new.source.as_deref(), Some("bookworm-security"));
}

#[test]
fn glob_filters_before_counting_total() {
    let (i, u) = fixture();
    let merged = merge(&i, &u);
    let (page, total) = select(&merged, &params("name=demo-*&status=all"), Backend::Apt);
    assert_eq!(total, 4);
    assert_eq!(
        names(&page),
        ["demo-app", "demo-hello", "demo-lib", "demo-new-dep"]
    );
    let (page, total) = select(&merged, &params("name=demo-?ib"), Backend::Apt);
    assert_eq!((names(&page), total), (vec!["demo-lib"], 1));
}

#[test]
fn sorts_by_name_version_and_size_in_both_orders() {
    let (i, u) = fixture();
    let base = filtered(&i, &u, StatusFilter::Installed);
    let (page, _) = select(&base, &params("order=desc"), Backend::Apt);
    assert_eq!(
        names(&page),
        ["zlib1g", "demo-lib", "demo-hello", "demo-app"]
    );
    // 1.0 < 1.9 < 1.10 < 1:1.2.13 (epoch wins).
    let (page, _) = select(&base, &params("sort=version"), Backend::Apt);
    assert_eq!(
        names(&page),
        ["demo-app", "demo-lib", "demo-hello", "zlib1g"]
    );
    // Unknown size sorts first ascending.
    let (page, _) = select(&base, &params("sort=size"), Backend::Apt);
    assert_eq!(
        names(&page),
        ["demo-lib", "demo-hello", "zlib1g", "demo-app"]
    );
    let (page, _) = select(&base, &params("sort=size&order=desc"), Backend::Apt);
    assert_eq!(
        names(&page),
        ["demo-app", "zlib1g", "demo-hello", "demo-lib"]
    );
}

#[test]
fn pagination_reports_total_and_cuts_pages() {
    let (i, u) = fixture();
    let base = filtered(&i, &u, StatusFilter::Installed);
    let (page, total) = select(&base, &params("limit=2"), Backend::Apt);
    assert_eq!((names(&page), total), (vec!["demo-app", "demo-hello"], 4));
    let (page, total) = select(&base, &params("limit=2&offset=2"), Backend::Apt);
    assert_eq!((names(&page), total), (vec!["demo-lib", "zlib1g"], 4));
    let (page, total) = select(&base, &params("limit=2&offset=3"), Backend::Apt);
    assert_eq!((names(&page), total), (vec!["zlib1g"], 4));
    let (page, total) = select(&base, &params("offset=99999999999999"), Backend::Apt);
    assert_eq!((page.len(), total), (0, 4));
}

/// The merged list with only the packages `status` admits.
fn filtered(
    i: &[PackageRecord],
    u: &[UpgradablePackage],
    status: StatusFilter,
) -> Vec<PackageObject> {
    merge(i, u)
        .into_iter()
        .filter(|p| status.admits(p))
        .collect()
}

#[test]
fn status_filter_applies_in_select() {
    let (i, u) = fixture();
    let all = merge(&i, &u);
    let (page, total) = select(&all, &params("status=upgradable"), Backend::Apt);
    assert_eq!((names(&page), total), (vec!["demo-hello"], 1));
    let (_, total) = select(&all, &params("status=all"), Backend::Apt);
    assert_eq!(total, 5);
}
