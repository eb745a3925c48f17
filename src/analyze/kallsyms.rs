//! Kernel symbols: `/proc/kallsyms` text in, `(address, name)` pairs out.
//!
//! The classifier names kernel stack frames through [`Trace::ksym`], which
//! needs this table sorted by address. Only text symbols (`t`, `T`, `W`,
//! `w`) are kept, module suffixes (`[ext4]`) are dropped, and zero addresses
//! are skipped: that is what a reader gets when `kptr_restrict` hides them, and
//! a table of zeros would name every frame wrongly.
//!
//! [`Trace::ksym`]: crate::model::trace::Trace::ksym

/// Parse kallsyms text into text symbols sorted by address.
pub fn parse(text: &str) -> Vec<(u64, String)> {
    let mut syms: Vec<(u64, String)> = text.lines().filter_map(parse_line).collect();
    syms.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    syms
}

/// One `ADDR TYPE NAME [MODULE]` line, when it is a non-zero text symbol.
fn parse_line(line: &str) -> Option<(u64, String)> {
    let mut it = line.split_whitespace();
    let addr = u64::from_str_radix(it.next()?, 16).ok()?;
    let kind = it.next()?;
    let name = it.next()?;
    let text = matches!(kind, "t" | "T" | "W" | "w");
    (text && addr != 0).then(|| (addr, name.to_string()))
}

/// Read `/proc/kallsyms`; empty when unreadable or when addresses are hidden.
pub fn load() -> Vec<(u64, String)> {
    std::fs::read_to_string("/proc/kallsyms")
        .map(|t| parse(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_symbols_sorted() {
        let text = "ffffffff81000200 T b_func\n\
                    ffffffff81000100 t a_func\n\
                    ffffffff82000000 D some_data\n\
                    ffffffff81000300 W weak_func\n\
                    ffffffffc0000000 t ext4_mod_func\t[ext4]\n";
        let syms = parse(text);
        let names: Vec<&str> = syms.iter().map(|s| s.1.as_str()).collect();
        assert_eq!(names, ["a_func", "b_func", "weak_func", "ext4_mod_func"]);
        assert_eq!(syms[0].0, 0xffffffff81000100);
    }

    #[test]
    fn hidden_addresses_give_nothing() {
        let text = "0000000000000000 T _text\n0000000000000000 t do_nanosleep\n";
        assert!(parse(text).is_empty());
    }

    #[test]
    fn tolerates_garbage() {
        assert!(parse("not a symbol line\n\nzz T x\n").is_empty());
    }
}
