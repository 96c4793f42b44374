//! `/etc/apk/world`: the packages the administrator asked for, with their constraints
//! (`demo-hello=1.0-r0`, `foo<2`, `bar@edge`). apk has no "hold"; a world entry that fixes or caps the
//! version (`=`, `<`, `<=`, `~`) is what keeps a package from being upgraded, so it is reported as held.

use super::db::dep_name;

/// The parsed world file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct World {
    entries: Vec<String>,
}

impl World {
    /// Parses the file's text: whitespace-separated dependencies (one per line as apk writes it).
    pub fn parse(text: &str) -> World {
        World {
            entries: text.split_whitespace().map(str::to_owned).collect(),
        }
    }

    /// The names asked for, without constraints (conflicts `!name` excluded).
    pub fn names(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| !e.starts_with('!'))
            .map(|e| dep_name(e))
            .collect()
    }

    /// Whether a world entry pins `name` to a version or caps it, which keeps apk from upgrading it.
    pub fn is_held(&self, name: &str) -> bool {
        self.entries.iter().any(|e| {
            !e.starts_with('!') && dep_name(e) == name && {
                let rest = &e[name.len()..];
                let rest = rest.split_once('@').map_or(rest, |(_, r)| {
                    r.find(['<', '>', '=', '~']).map_or("", |i| &r[i..])
                });
                rest.starts_with('=') || rest.starts_with('<') || rest.starts_with('~')
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_world_after_a_pinned_downgrade_holds_the_pinned_package() {
        // `cat $ROOT/etc/apk/world` from the recorded apk 2.14.9 and 3.0.6 sessions.
        let w = World::parse("demo-broken\ndemo-hello=1.0-r0\n");
        assert_eq!(w.names(), ["demo-broken", "demo-hello"]);
        assert!(w.is_held("demo-hello"));
        assert!(!w.is_held("demo-broken"));
        assert!(!w.is_held("demo-lib"));
    }

    #[test]
    fn caps_and_fuzzy_pins_hold_but_minimums_tags_and_conflicts_do_not() {
        let w = World::parse("a<2 b<=3 c~1.2 d>=1 e@edge f@edge=1.0-r0 !g h");
        assert!(w.is_held("a") && w.is_held("b") && w.is_held("c") && w.is_held("f"));
        assert!(!w.is_held("d") && !w.is_held("e") && !w.is_held("g") && !w.is_held("h"));
        assert_eq!(w.names(), ["a", "b", "c", "d", "e", "f", "h"]);
        assert_eq!(World::parse(""), World::default());
    }
}
