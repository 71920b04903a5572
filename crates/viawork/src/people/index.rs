//! [`SearchIndex`]: an immutable in-memory index of the enabled directory users, answering
//! people searches in microseconds. Pure data, no IO: [`super::Directory`] builds a new one
//! from the store when the directory changes and swaps it in.
//!
//! # Keys
//! Each person has a handful of *keys* (see [`super::normalize`]): the words of their
//! display name; their email address whole and the words of its local part; their SIP
//! address (without `sip:`) whole and the words of its user part; and the digits, national
//! number and extension of each phone number and of their LineURI. Title, department and
//! office are shown but not searched, and domain names are not keys (every user would
//! match "example").
//!
//! # Layout
//! People are numbered in *rank order* — folded display name, then SIP address — so a
//! person's number is also the tie-break between equal matches, and every list of people
//! below is sorted by it. The distinct keys of the directory are sorted and stored in one
//! string (`\0`-separated), which gives
//! - exact lookup by binary search;
//! - prefix lookup as a contiguous range of keys (all keys starting with `ann` sit between
//!   `ann` and the first key past it), so "does this person have a key with this prefix" is
//!   two integer comparisons per key;
//! - substring lookup through a trigram index: the keys holding the rarest trigram of the
//!   term, checked with `memchr::memmem`. A term is only looked for inside keys of its own
//!   kind — words (of names and addresses' local parts), phone numbers as written, or
//!   addresses (matches starting in the local part) — never inside national numbers or
//!   extensions (parts of the numbers searched). It is a fallback, for terms of
//!   [`MIN_SUBSTRING`] characters or more, used only when exact and prefix matches do not
//!   fill the page.
//!
//! Each key has a posting list (the people who have it), all lists in one array in key
//! order, so the number of postings under a prefix is one subtraction.
//!
//! # Ranking
//! A term matches a person *exactly* (a key equals it), by *prefix* (a key starts with it)
//! or by *substring*; a person's rank for a query is the weakest match among its terms
//! (every term must match). Results are all exact matches, then prefix, then substring,
//! each in rank order. [`SearchIndex::search`] collects them in three passes, each driven by
//! the query's most selective term and stopping as soon as `limit + 1` people are found, so
//! a page of 20 costs about the same whatever the directory size.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use super::normalize::{fold, phone_keys, words, Query};
use super::person::Person;

/// Terms shorter than this are matched by exact and prefix only.
pub const MIN_SUBSTRING: usize = 3;

/// How a query matched a person; the order is the ranking (exact first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MatchKind {
    /// Every term equals one of the person's keys.
    Exact,
    /// Every term equals or starts one of their keys.
    Prefix,
    /// Some term only occurs inside one of their keys.
    Substring,
}

/// One search result.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Who.
    pub person: Arc<Person>,
    /// How well.
    pub kind: MatchKind,
}

/// A page of results.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    /// At most `limit` people, best first.
    pub hits: Vec<Hit>,
    /// More people matched than `limit`.
    pub more: bool,
}

/// The index. Cheap to share behind an `Arc`; never changes after [`SearchIndex::build`].
#[derive(Debug, Default)]
pub struct SearchIndex {
    /// Enabled people in rank order.
    people: Vec<Arc<Person>>,
    /// SIP address → rank.
    by_uri: HashMap<String, u32>,
    /// Line number (E.164, `+14255550101`) and line extension (`ext:101`) → rank, for
    /// calls the PBX routes to ViaWork.
    by_line: HashMap<String, u32>,
    /// The distinct keys, sorted, each followed by `\0`.
    keys: String,
    /// Where key `k` starts in `keys`; one more entry than keys (the end).
    key_start: Vec<u32>,
    /// Where key `k`'s postings start in `postings`; one more entry than keys.
    posting_start: Vec<u32>,
    /// People (ranks) per key, ascending within a key.
    postings: Vec<u32>,
    /// Where person `p`'s key ids start in `person_keys`; one more entry than people.
    person_key_start: Vec<u32>,
    /// Key ids per person.
    person_keys: Vec<u32>,
    /// Per key: how substrings are looked for in it ([`Sub`] as `u8`).
    sub: Vec<u8>,
    /// Trigram index of the substring-searchable keys: sorted distinct trigram codes, where
    /// each one's keys start in `gram_keys`, and the keys.
    gram_codes: Vec<u32>,
    gram_start: Vec<u32>,
    gram_keys: Vec<u32>,
}

/// Which substrings a key answers, by what it holds. A term is looked for only in keys of
/// its own kind, so a number does not match inside `johnson123` and a word not inside a
/// phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Sub {
    /// Not searched by substring (a national number or an extension: every substring of
    /// a national number is one of the full number, which is searched).
    No = 0,
    /// A word of a name or of an address's local part.
    Word = 1,
    /// A phone number's digits as written (international or not).
    Digits = 2,
    /// An email or SIP address: only matches starting in its local part count.
    Address = 3,
}

impl Sub {
    /// The kind of text `s` is.
    fn of(s: &str) -> Sub {
        if s.contains('@') {
            Sub::Address
        } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            Sub::Digits
        } else {
            Sub::Word
        }
    }
}

/// What the passes need to know about one term.
struct Term<'a> {
    text: &'a str,
    /// The key equal to the term, if any.
    exact: Option<u32>,
    /// The keys starting with the term: `lo..hi`.
    lo: u32,
    hi: u32,
    /// The kind of keys it may be a substring of.
    sub: Sub,
}

impl SearchIndex {
    /// Indexes the enabled people among `people` (disabled ones are left out).
    pub fn build(people: impl IntoIterator<Item = Person>) -> SearchIndex {
        let mut people: Vec<(String, Arc<Person>)> = people
            .into_iter()
            .filter(|p| p.enabled)
            .map(|p| (fold(&p.display_name), Arc::new(p)))
            .collect();
        people.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.sip_uri.cmp(&b.1.sip_uri)));
        let people: Vec<Arc<Person>> = people.into_iter().map(|(_, p)| p).collect();

        // Key → people, filled in rank order so each list comes out sorted.
        let mut lists: HashMap<String, (bool, Vec<u32>)> = HashMap::new();
        for (rank, person) in people.iter().enumerate() {
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            for (key, searchable) in keys_of(person) {
                let (any_searchable, list) = lists.entry(key).or_default();
                *any_searchable |= searchable;
                if list.last() != Some(&rank) {
                    list.push(rank);
                }
            }
        }
        let mut sorted: Vec<(String, (bool, Vec<u32>))> = lists.into_iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));

        let mut index = SearchIndex {
            by_uri: people
                .iter()
                .enumerate()
                .map(|(r, p)| (p.sip_uri.clone(), u32::try_from(r).unwrap_or(u32::MAX)))
                .collect(),
            by_line: people
                .iter()
                .enumerate()
                .flat_map(|(r, p)| {
                    let r = u32::try_from(r).unwrap_or(u32::MAX);
                    let line = p.line_uri.parse::<crate::domain::LineUri>().ok();
                    let number = line.as_ref().map(|l| l.number().as_str().to_owned());
                    let ext = line
                        .as_ref()
                        .and_then(|l| l.extension().map(|e| format!("ext:{e}")));
                    number.into_iter().chain(ext).map(move |k| (k, r))
                })
                .collect(),
            keys: String::with_capacity(sorted.iter().map(|(k, _)| k.len() + 1).sum()),
            key_start: Vec::with_capacity(sorted.len() + 1),
            posting_start: Vec::with_capacity(sorted.len() + 1),
            postings: Vec::with_capacity(sorted.iter().map(|(_, (_, l))| l.len()).sum()),
            sub: Vec::with_capacity(sorted.len()),
            ..SearchIndex::default()
        };
        let mut per_person: Vec<Vec<u32>> = vec![Vec::new(); people.len()];
        let mut grams: Vec<(u32, u32)> = Vec::new();
        for (id, (key, (searchable, list))) in sorted.iter().enumerate() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            let sub = if *searchable { Sub::of(key) } else { Sub::No };
            index.sub.push(sub as u8);
            if sub != Sub::No {
                let end = match sub {
                    Sub::Address => key.find('@').unwrap_or(key.len()),
                    _ => key.len(),
                };
                let mut mine: Vec<u32> = key.as_bytes().windows(3).take(end).map(gram).collect();
                // A key's repeated trigrams ("aaa" in "aaaa") count once.
                mine.sort_unstable();
                mine.dedup();
                grams.extend(mine.into_iter().map(|g| (g, id)));
            }
            index.key_start.push(offset(index.keys.len()));
            index.keys.push_str(key);
            index.keys.push('\0');
            index.posting_start.push(offset(index.postings.len()));
            index.postings.extend_from_slice(list);
            for &p in list {
                per_person[p as usize].push(id);
            }
        }
        index.key_start.push(offset(index.keys.len()));
        index.posting_start.push(offset(index.postings.len()));
        index.person_key_start.reserve(people.len() + 1);
        for keys in &per_person {
            index.person_key_start.push(offset(index.person_keys.len()));
            index.person_keys.extend_from_slice(keys);
        }
        index.person_key_start.push(offset(index.person_keys.len()));
        grams.sort_unstable();
        for (code, key) in grams {
            if index.gram_codes.last() != Some(&code) {
                index.gram_codes.push(code);
                index.gram_start.push(offset(index.gram_keys.len()));
            }
            index.gram_keys.push(key);
        }
        index.gram_start.push(offset(index.gram_keys.len()));
        index.people = people;
        index
    }

    /// How many people are searchable.
    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// True when nobody is searchable.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// How many distinct keys there are.
    pub fn key_count(&self) -> usize {
        self.key_start.len().saturating_sub(1)
    }

    /// The enabled person with this SIP address (lower case).
    pub fn get(&self, sip_uri: &str) -> Option<&Arc<Person>> {
        self.by_uri
            .get(sip_uri)
            .and_then(|&r| self.people.get(r as usize))
    }

    /// The enabled person whose PBX line is `number` (E.164 with `+`).
    pub fn by_line_number(&self, number: &str) -> Option<&Arc<Person>> {
        self.by_line
            .get(number)
            .and_then(|&r| self.people.get(r as usize))
    }

    /// The enabled person whose PBX line has extension `ext`.
    pub fn by_line_extension(&self, ext: &str) -> Option<&Arc<Person>> {
        self.by_line
            .get(&format!("ext:{ext}"))
            .and_then(|&r| self.people.get(r as usize))
    }

    /// An estimate of the heap memory the index holds, cards included.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let cards: usize = self
            .people
            .iter()
            .map(|p| size_of::<Person>() + p.heap_bytes() + 2 * size_of::<usize>())
            .sum();
        let by_uri = self.by_uri.capacity() * (size_of::<(String, u32)>() + 1)
            + self.by_uri.keys().map(String::capacity).sum::<usize>();
        cards
            + by_uri
            + self.people.capacity() * size_of::<Arc<Person>>()
            + self.keys.capacity()
            + 4 * (self.key_start.capacity()
                + self.posting_start.capacity()
                + self.postings.capacity()
                + self.person_key_start.capacity()
                + self.person_keys.capacity()
                + self.gram_codes.capacity()
                + self.gram_start.capacity()
                + self.gram_keys.capacity())
            + self.sub.capacity()
    }

    /// The best `limit` matches of `query` (see the module doc for the ranking), and whether
    /// there are more.
    pub fn search(&self, query: &Query, limit: usize) -> SearchPage {
        let terms: Vec<Term<'_>> = query.terms().iter().map(|t| self.term(t)).collect();
        let want = limit.saturating_add(1);
        let mut found: Vec<(u32, MatchKind)> = Vec::new();
        if limit == 0 || terms.is_empty() {
            return SearchPage::default();
        }

        // Pass 1: exact. Every exact match has the driver's exact key.
        if terms.iter().all(|t| t.exact.is_some()) {
            let driver = terms
                .iter()
                .min_by_key(|t| t.exact.map_or(0, |k| self.posting_len(k, k + 1)))
                .and_then(|t| t.exact);
            if let Some(k) = driver {
                for &p in self.posting_range(k, k + 1) {
                    if self.kind(p, &terms, false) == Some(MatchKind::Exact) {
                        found.push((p, MatchKind::Exact));
                        if found.len() == want {
                            return self.page(found, limit);
                        }
                    }
                }
            }
        }

        // Pass 2: prefix, merging the posting lists of the driver's key range in rank order.
        if terms.iter().all(|t| t.lo < t.hi) {
            if let Some(driver) = terms.iter().min_by_key(|t| self.posting_len(t.lo, t.hi)) {
                // A range holding more postings than there are people (a one-letter or
                // one-digit term) is cheaper to test person by person, in rank order, than to
                // merge.
                let stream: Box<dyn Iterator<Item = u32>> =
                    if self.posting_len(driver.lo, driver.hi) > self.people.len() {
                        Box::new(0..offset(self.people.len()))
                    } else {
                        Box::new(self.merged(driver.lo, driver.hi))
                    };
                let mut last = None;
                for p in stream {
                    if last == Some(p) {
                        continue;
                    }
                    last = Some(p);
                    if self.kind(p, &terms, false) == Some(MatchKind::Prefix) {
                        found.push((p, MatchKind::Prefix));
                        if found.len() == want {
                            return self.page(found, limit);
                        }
                    }
                }
            }
        }

        // Pass 3: substring, only for terms long enough; the longest term drives.
        if let Some(driver) = terms
            .iter()
            .filter(|t| t.text.len() >= MIN_SUBSTRING)
            .max_by_key(|t| t.text.len())
        {
            let mut candidates: Vec<u32> = Vec::new();
            for k in self.keys_containing(driver) {
                candidates.extend_from_slice(self.posting_range(k, k + 1));
            }
            candidates.sort_unstable();
            candidates.dedup();
            for p in candidates {
                if self.kind(p, &terms, true) == Some(MatchKind::Substring) {
                    found.push((p, MatchKind::Substring));
                    if found.len() == want {
                        return self.page(found, limit);
                    }
                }
            }
        }
        self.page(found, limit)
    }

    fn page(&self, mut found: Vec<(u32, MatchKind)>, limit: usize) -> SearchPage {
        let more = found.len() > limit;
        found.truncate(limit);
        SearchPage {
            hits: found
                .into_iter()
                .filter_map(|(p, kind)| {
                    self.people.get(p as usize).map(|person| Hit {
                        person: person.clone(),
                        kind,
                    })
                })
                .collect(),
            more,
        }
    }

    /// The exact key and prefix range of `text`.
    fn term<'a>(&self, text: &'a str) -> Term<'a> {
        let n = self.key_count();
        // First key >= text.
        let lo = partition(n, |k| self.key(k) < text);
        let exact = (lo < n && self.key(lo) == text).then_some(offset(lo));
        // First key past the prefix range.
        let hi = lo + partition(n - lo, |i| self.key(lo + i).starts_with(text));
        Term {
            text,
            exact,
            lo: offset(lo),
            hi: offset(hi),
            sub: Sub::of(text),
        }
    }

    /// How `p` matches `terms`: the weakest of each term's best match; `None` if a term does
    /// not match (or matches only as a substring and `substrings` is false).
    fn kind(&self, p: u32, terms: &[Term<'_>], substrings: bool) -> Option<MatchKind> {
        let keys = self.person_keys(p);
        let mut worst = MatchKind::Exact;
        for t in terms {
            let best = if keys.iter().any(|&k| Some(k) == t.exact) {
                MatchKind::Exact
            } else if keys.iter().any(|&k| t.lo <= k && k < t.hi) {
                MatchKind::Prefix
            } else if substrings
                && t.text.len() >= MIN_SUBSTRING
                && keys.iter().any(|&k| self.substring_of(k, t))
            {
                MatchKind::Substring
            } else {
                return None;
            };
            worst = worst.max(best);
        }
        Some(worst)
    }

    fn key(&self, k: usize) -> &str {
        let start = self.key_start[k] as usize;
        let end = self.key_start[k + 1] as usize - 1;
        &self.keys[start..end]
    }

    fn posting_len(&self, lo: u32, hi: u32) -> usize {
        (self.posting_start[hi as usize] - self.posting_start[lo as usize]) as usize
    }

    fn posting_range(&self, lo: u32, hi: u32) -> &[u32] {
        &self.postings
            [self.posting_start[lo as usize] as usize..self.posting_start[hi as usize] as usize]
    }

    fn person_keys(&self, p: u32) -> &[u32] {
        let p = p as usize;
        &self.person_keys[self.person_key_start[p] as usize..self.person_key_start[p + 1] as usize]
    }

    /// The people of keys `lo..hi` in rank order (a person with several of those keys comes
    /// several times, consecutively), lazily: a k-way merge of the sorted posting lists.
    fn merged(&self, lo: u32, hi: u32) -> impl Iterator<Item = u32> + '_ {
        let mut heap: BinaryHeap<Reverse<(u32, u32)>> = (lo..hi)
            .filter_map(|k| {
                let at = self.posting_start[k as usize];
                (at < self.posting_start[k as usize + 1])
                    .then(|| Reverse((self.postings[at as usize], at)))
            })
            .collect();
        // `at` indexes `postings`; its list ends at the next key's start, found by search.
        std::iter::from_fn(move || {
            let Reverse((p, at)) = heap.pop()?;
            let next = at + 1;
            let key = self.posting_start.partition_point(|&s| s <= at) - 1;
            if next < self.posting_start[key + 1] {
                heap.push(Reverse((self.postings[next as usize], next)));
            }
            Some(p)
        })
    }

    /// True when `t` is a substring of key `k` of its own kind (in an address, starting
    /// in its local part).
    fn substring_of(&self, k: u32, t: &Term<'_>) -> bool {
        self.sub[k as usize] == t.sub as u8 && local_match(self.key(k as usize), t.text)
    }

    /// The keys `t` is a substring of: the keys holding the rarest of its trigrams (for an
    /// address, among those before its `@`, the only ones indexed), checked.
    fn keys_containing<'a>(&'a self, t: &'a Term<'a>) -> impl Iterator<Item = u32> + 'a {
        let bytes = t.text.as_bytes();
        let usable = match t.sub {
            Sub::Address => t.text.find('@').unwrap_or(bytes.len()),
            _ => bytes.len(),
        };
        let rarest = bytes
            .windows(3)
            .take(usable)
            .map(|w| self.gram_range(gram(w)))
            .min_by_key(|r| r.len())
            .unwrap_or(0..0);
        self.gram_keys[rarest]
            .iter()
            .copied()
            .filter(move |&k| self.substring_of(k, t))
    }

    /// Where the keys of trigram `code` are in `gram_keys` (empty if none has it).
    fn gram_range(&self, code: u32) -> std::ops::Range<usize> {
        match self.gram_codes.binary_search(&code) {
            Ok(i) => self.gram_start[i] as usize..self.gram_start[i + 1] as usize,
            Err(_) => 0..0,
        }
    }
}

/// A trigram as a number.
fn gram(w: &[u8]) -> u32 {
    (u32::from(w[0]) << 16) | (u32::from(w[1]) << 8) | u32::from(w[2])
}

/// The keys of a person, each with whether substrings are looked for in it (duplicates
/// possible; the builder drops them).
fn keys_of(p: &Person) -> Vec<(String, bool)> {
    let mut keys: Vec<(String, bool)> = Vec::with_capacity(16);
    let name = fold(&p.display_name);
    keys.extend(words(&name).map(|w| (w.to_owned(), true)));
    for address in [p.email.as_str(), p.sip_uri.as_str()] {
        let folded = fold(address);
        let folded = folded.strip_prefix("sip:").unwrap_or(&folded);
        if folded.is_empty() {
            continue;
        }
        if let Some((local, _domain)) = folded.split_once('@') {
            keys.extend(words(local).map(|w| (w.to_owned(), true)));
        }
        keys.push((folded.to_owned(), true));
    }
    for phone in [
        &p.phone_work,
        &p.phone_mobile,
        &p.phone_home,
        &p.phone_other,
        &p.line_uri,
    ] {
        let phone_keys = phone_keys(phone);
        // The longest is the number as written; the national number and the extension
        // are parts of it or too short to search inside.
        let main = phone_keys.iter().map(String::len).max().unwrap_or(0);
        let mut marked = false;
        for key in phone_keys {
            let full = !marked && key.len() == main && key.len() > 4;
            marked |= full;
            keys.push((key, full));
        }
    }
    keys
}

/// True when `needle` occurs in `key` starting before its `@`, if it has one: a substring
/// of an address must touch its local part, or "example" would match every address.
fn local_match(key: &str, needle: &str) -> bool {
    memchr::memmem::find_iter(key.as_bytes(), needle.as_bytes()).any(|at| before_domain(key, at))
}

/// True when byte `at` of `key` is before its `@` (or it has none).
fn before_domain(key: &str, at: usize) -> bool {
    key.find('@').is_none_or(|domain| at < domain)
}

/// A length or position as the index's `u32` (the index holds far fewer than 4 G items).
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The first `i` in `0..n` for which `pred` is false (`pred` true then false).
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: i64, name: &str, uri: &str, phone: &str) -> Person {
        Person {
            id,
            sip_uri: uri.into(),
            display_name: name.into(),
            email: uri.trim_start_matches("sip:").into(),
            phone_work: phone.into(),
            enabled: true,
            ..Person::default()
        }
    }

    fn names(index: &SearchIndex, q: &str, limit: usize) -> Vec<(String, MatchKind)> {
        index
            .search(&Query::parse(q).unwrap(), limit)
            .hits
            .into_iter()
            .map(|h| (h.person.display_name.clone(), h.kind))
            .collect()
    }

    fn directory() -> SearchIndex {
        SearchIndex::build([
            person(
                1,
                "José García",
                "sip:jgarcia@example.com",
                "+1 425 555 0101",
            ),
            person(2, "Ann Smith", "sip:ann@example.com", "+14255550102"),
            person(3, "Annabel Lee", "sip:alee@example.com", ""),
            person(4, "Joanne Hannah", "sip:jhannah@example.com", ""),
            person(
                5,
                "Bob Annerl",
                "sip:bob@example.com",
                "tel:+442079460958;ext=77",
            ),
            Person {
                enabled: false,
                ..person(6, "Ann Disabled", "sip:gone@example.com", "+14255550101")
            },
        ])
    }

    #[test]
    fn a_spaced_national_number_finds_the_e164_number() {
        let idx = directory();
        assert_eq!(
            names(&idx, "425 555 0101", 20),
            [("José García".to_owned(), MatchKind::Exact)]
        );
        assert_eq!(names(&idx, "+1 (425) 555-0101", 20)[0].0, "José García");
        // A prefix of the number finds both 425 555 01xx people, in name order.
        assert_eq!(
            names(&idx, "425555", 20),
            [
                ("Ann Smith".to_owned(), MatchKind::Prefix),
                ("José García".to_owned(), MatchKind::Prefix)
            ]
        );
        assert_eq!(names(&idx, "77", 20)[0].0, "Bob Annerl", "extension");
        assert_eq!(names(&idx, "020 7946 0958", 20), []);
        assert_eq!(names(&idx, "20 7946 0958", 20)[0].0, "Bob Annerl");
    }

    #[test]
    fn diacritics_and_case_do_not_matter() {
        let idx = directory();
        for q in ["jose", "JOSE", "José", "josé garcía", "GARCIA"] {
            assert_eq!(names(&idx, q, 20)[0].0, "José García", "{q}");
        }
    }

    #[test]
    fn exact_before_prefix_before_substring_then_name_order() {
        let idx = directory();
        assert_eq!(
            names(&idx, "ann", 20),
            [
                ("Ann Smith".to_owned(), MatchKind::Exact),
                ("Annabel Lee".to_owned(), MatchKind::Prefix),
                ("Bob Annerl".to_owned(), MatchKind::Prefix),
                ("Joanne Hannah".to_owned(), MatchKind::Substring),
            ]
        );
    }

    #[test]
    fn every_term_must_match_and_the_weakest_ranks() {
        let idx = directory();
        assert_eq!(
            names(&idx, "ann smi", 20),
            [("Ann Smith".to_owned(), MatchKind::Prefix)]
        );
        assert_eq!(
            names(&idx, "smith ann", 20),
            [("Ann Smith".to_owned(), MatchKind::Exact)]
        );
        assert_eq!(names(&idx, "ann lee", 20)[0].0, "Annabel Lee");
        assert_eq!(names(&idx, "ann zzz", 20), []);
    }

    #[test]
    fn addresses_match_whole_and_by_local_part() {
        let idx = directory();
        assert_eq!(
            names(&idx, "sip:JGarcia@Example.com", 20),
            [("José García".to_owned(), MatchKind::Exact)]
        );
        assert_eq!(
            names(&idx, "jgarcia@exa", 20),
            [("José García".to_owned(), MatchKind::Prefix)]
        );
        assert_eq!(names(&idx, "alee", 20)[0].0, "Annabel Lee");
        assert_eq!(names(&idx, "example", 20), [], "domains are not keys");
    }

    #[test]
    fn disabled_people_are_not_indexed() {
        let idx = directory();
        assert!(names(&idx, "disabled", 20).is_empty());
        assert!(idx.get("sip:gone@example.com").is_none());
        assert!(idx.get("sip:ann@example.com").is_some());
        assert_eq!(idx.len(), 5);
    }

    #[test]
    fn limit_cuts_and_reports_more() {
        let idx = directory();
        let q = Query::parse("ann").unwrap();
        let page = idx.search(&q, 2);
        assert_eq!(page.hits.len(), 2);
        assert!(page.more);
        let page = idx.search(&q, 4);
        assert_eq!(page.hits.len(), 4);
        assert!(!page.more);
    }

    #[test]
    fn substrings_are_looked_for_in_keys_of_their_own_kind() {
        let idx = SearchIndex::build([
            person(
                1,
                "Ann Johnson",
                "sip:ajohnson123@example.com",
                "+1 425 555 0101",
            ),
            person(
                2,
                "Zed Zulu",
                "sip:zz@example.com",
                "+44 20 7946 0958 x5678",
            ),
        ]);
        // Inside a name word, an address's local part, a phone number.
        assert_eq!(
            names(&idx, "ohns", 20),
            [("Ann Johnson".to_owned(), MatchKind::Substring)]
        );
        assert_eq!(
            names(&idx, "ohnson123@exam", 20),
            [("Ann Johnson".to_owned(), MatchKind::Substring)]
        );
        assert_eq!(
            names(&idx, "555 0101", 20),
            [("Ann Johnson".to_owned(), MatchKind::Substring)]
        );
        assert_eq!(
            names(&idx, "7946", 20),
            [("Zed Zulu".to_owned(), MatchKind::Substring)]
        );
        // Digits do not match inside a word ("ajohnson123"), nor words inside numbers.
        assert_eq!(names(&idx, "123", 20), []);
        // Not inside a domain, nor inside an extension.
        assert_eq!(names(&idx, "xample", 20), []);
        assert_eq!(names(&idx, "678", 20), []);
    }

    #[test]
    fn a_one_letter_term_finds_people_in_rank_order() {
        let idx = directory();
        let all: Vec<String> = names(&idx, "a", 20).into_iter().map(|(n, _)| n).collect();
        assert_eq!(all, ["Ann Smith", "Annabel Lee", "Bob Annerl"]);
        let j: Vec<(String, MatchKind)> = names(&idx, "j", 20);
        assert_eq!(
            j,
            [
                ("Joanne Hannah".to_owned(), MatchKind::Prefix),
                ("José García".to_owned(), MatchKind::Prefix)
            ]
        );
    }

    #[test]
    fn short_terms_are_not_substring_matched() {
        let idx = directory();
        // "nn" is inside Ann, Annabel, Joanne, Hannah, Annerl, but starts no key.
        assert!(names(&idx, "nn", 20).is_empty());
    }

    #[test]
    fn ties_break_on_folded_name_then_address() {
        let idx = SearchIndex::build([
            person(1, "Émile Zola", "sip:b@example.com", ""),
            person(2, "emile zola", "sip:a@example.com", ""),
            person(3, "Emile Adams", "sip:c@example.com", ""),
        ]);
        let uris: Vec<String> = idx
            .search(&Query::parse("emile").unwrap(), 10)
            .hits
            .iter()
            .map(|h| h.person.sip_uri.clone())
            .collect();
        assert_eq!(
            uris,
            [
                "sip:c@example.com",
                "sip:a@example.com",
                "sip:b@example.com"
            ]
        );
    }
}
