//! The operator commands' arguments: one positional (the table), then `--flag value` pairs
//! and bare `--switch`es, in any order.

/// The positional and the flags as given.
pub(crate) struct Flags<'a> {
    pub positional: &'a str,
    given: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> Flags<'a> {
    /// `None` for no positional, a flag that is neither in `valued` nor in `switches`, or a
    /// valued flag without its value.
    pub fn parse(args: &'a [String], valued: &[&str], switches: &[&str]) -> Option<Self> {
        let (positional, rest) = args.split_first()?;
        if positional.starts_with("--") {
            return None;
        }
        let mut given = Vec::new();
        let mut rest = rest.iter().map(String::as_str);
        while let Some(flag) = rest.next() {
            if switches.contains(&flag) {
                given.push((flag, None));
            } else if valued.contains(&flag) {
                given.push((flag, Some(rest.next()?)));
            } else {
                return None;
            }
        }
        Some(Flags { positional, given })
    }

    /// Every value of a repeatable flag, in order.
    pub fn all(&self, flag: &str) -> Vec<&'a str> {
        self.given.iter().filter(|(f, _)| *f == flag).filter_map(|(_, value)| *value).collect()
    }

    /// The value of a flag given at most once: `Err` when it is repeated.
    pub fn one(&self, flag: &str) -> Result<Option<&'a str>, String> {
        match self.all(flag)[..] {
            [] => Ok(None),
            [value] => Ok(Some(value)),
            _ => Err(format!("{flag} is given more than once")),
        }
    }

    pub fn has(&self, switch: &str) -> bool {
        self.given.iter().any(|(f, _)| *f == switch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn flags_come_in_any_order_and_unknown_or_valueless_ones_are_refused() {
        let given = args("table --b 1 --s --b 2 --a x");
        let flags = Flags::parse(&given, &["--a", "--b"], &["--s"]).unwrap();
        assert_eq!(flags.positional, "table");
        assert_eq!(flags.all("--b"), ["1", "2"]);
        assert_eq!(flags.one("--a"), Ok(Some("x")));
        assert!(flags.one("--b").is_err());
        assert!(flags.has("--s") && !flags.has("--t"));
        assert!(Flags::parse(&args("table --c 1"), &["--a"], &[]).is_none());
        assert!(Flags::parse(&args("table --a"), &["--a"], &[]).is_none());
        assert!(Flags::parse(&args("--a 1"), &["--a"], &[]).is_none());
    }
}
