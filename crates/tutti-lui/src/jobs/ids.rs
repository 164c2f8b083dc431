//! Job ids as the reference makes them: an optional prefix, the day as `YYMMDD`, and a
//! letter per job of that day (A … Z, then AA, AB, …), e.g. `NEWS-261129B`.

/// The letters of the `n`-th job of a day, from 0: bijective base 26.
pub fn letters(mut n: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// `YYMMDD` of a date.
pub fn day(date: chrono::NaiveDate) -> String {
    date.format("%y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn letters_count_like_spreadsheet_columns() {
        assert_eq!(letters(0), "A");
        assert_eq!(letters(25), "Z");
        assert_eq!(letters(26), "AA");
        assert_eq!(letters(27), "AB");
        assert_eq!(letters(26 + 26 * 26 - 1), "ZZ");
        assert_eq!(letters(26 + 26 * 26), "AAA");
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap_or_default();
        assert_eq!(day(date), "261129");
    }

    proptest! {
        #[test]
        fn letters_are_distinct_and_ordered_by_length_then_alphabet(a in 0u64..100_000, b in 0u64..100_000) {
            let (la, lb) = (letters(a), letters(b));
            prop_assert_eq!(a == b, la == lb);
            let key = |s: &String| (s.len(), s.clone());
            prop_assert_eq!(a.cmp(&b), key(&la).cmp(&key(&lb)));
        }
    }
}
