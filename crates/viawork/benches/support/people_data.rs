//! A synthetic directory for the people-search benchmarks: `n` users with realistic names
//! (including accented ones), addresses, North American and European numbers and
//! extensions, generated from a fixed seed so every run searches the same data; and query
//! mixes drawn from it so that most queries find someone.
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use viawork::people::Person;

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Dorothy",
    "Kevin",
    "Carol",
    "Brian",
    "Amanda",
    "George",
    "Melissa",
    "Edward",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Timothy",
    "Rebecca",
    "Jason",
    "Sharon",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Shirley",
    "Eric",
    "Angela",
    "Jonathan",
    "Helen",
    "Stephen",
    "Anna",
    "Larry",
    "Brenda",
    "Justin",
    "Pamela",
    "Scott",
    "Nicole",
    "Brandon",
    "Emma",
    "José",
    "María",
    "Zoë",
    "Chloé",
    "François",
    "Amélie",
    "Søren",
    "Åsa",
    "Łukasz",
    "Małgorzata",
    "Jürgen",
    "Müge",
    "Renée",
    "Hélène",
    "Björn",
    "Ingrid",
    "Nguyễn",
    "Thảo",
    "Ana",
    "João",
    "Li",
    "Wei",
    "Hiroshi",
    "Yuki",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Olga",
    "Dmitri",
];

const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gómez",
    "Phillips",
    "Evans",
    "Turner",
    "Díaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutiérrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Laurent",
    "Girard",
    "Bonnet",
    "Dupont",
    "Kowalski",
    "Wiśniewski",
    "Wójcik",
    "Nowak",
    "Jensen",
    "Nielsen",
    "Hansen",
    "Pedersen",
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Øberg",
    "Åberg",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Tanaka",
    "Suzuki",
    "Takahashi",
    "Watanabe",
    "Sato",
    "Patel",
    "Sharma",
    "Singh",
    "Kumar",
    "Gupta",
    "Ivanov",
    "Smirnov",
    "Kuznetsov",
    "Popov",
    "O'Brien",
    "O'Connor",
    "McDonald",
    "MacLeod",
    "van der Berg",
    "de Jong",
    "Jansen",
    "de Vries",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
];

const TITLES: &[&str] = &[
    "Engineer",
    "Senior Engineer",
    "Manager",
    "Director",
    "Sales Representative",
    "Accountant",
    "Analyst",
    "Designer",
    "Support Specialist",
    "Administrator",
];

const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Finance",
    "Marketing",
    "Support",
    "IT",
    "Legal",
    "Operations",
];

/// `n` users, deterministic.
pub fn directory(n: usize) -> Vec<Person> {
    let mut rng = StdRng::seed_from_u64(0x7065_6f70_6c65);
    let mut used = std::collections::HashSet::new();
    (0..n)
        .map(|i| {
            let first = FIRST[rng.random_range(0..FIRST.len())];
            let last = LAST[rng.random_range(0..LAST.len())];
            // first.last as long as it is free, then first.lastN (unique, as a directory's).
            let plain = format!("{}.{}", ascii(first), ascii(last).replace([' ', '\''], ""));
            let local = if used.insert(plain.clone()) {
                plain
            } else {
                let numbered = format!("{plain}{i}");
                used.insert(numbered.clone());
                numbered
            };
            let us = rng.random_bool(0.7);
            let number = |rng: &mut StdRng| {
                if us {
                    let area = [425, 206, 212, 415, 312, 617][rng.random_range(0..6)];
                    format!(
                        "+1 {area} {:03} {:04}",
                        rng.random_range(200..999),
                        rng.random_range(0..10_000)
                    )
                } else {
                    format!(
                        "+44 20 {:04} {:04}",
                        rng.random_range(1000..10_000),
                        rng.random_range(0..10_000)
                    )
                }
            };
            let work = number(&mut rng);
            let digits: String = work.chars().filter(char::is_ascii_digit).collect();
            Person {
                id: i as i64 + 1,
                sip_uri: format!("sip:{local}@contoso.com"),
                display_name: format!("{first} {last}"),
                email: format!("{local}@contoso.com"),
                title: TITLES[rng.random_range(0..TITLES.len())].to_owned(),
                department: DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())].to_owned(),
                office: format!(
                    "B{}/{}",
                    rng.random_range(1..40),
                    rng.random_range(100..999)
                ),
                phone_work: work,
                phone_mobile: if rng.random_bool(0.6) {
                    number(&mut rng)
                } else {
                    String::new()
                },
                line_uri: if rng.random_bool(0.8) {
                    format!("tel:+{digits};ext={}", rng.random_range(1000..10_000))
                } else {
                    String::new()
                },
                enabled: rng.random_bool(0.98),
                ..Person::default()
            }
        })
        .collect()
}

fn ascii(s: &str) -> String {
    viawork::people::normalize::fold(s)
}

/// The kinds of query a person types, each drawn from the directory.
pub const KINDS: &[&str] = &[
    "last name",
    "first name prefix (1 letter)",
    "first name prefix (3 letters)",
    "first and last name",
    "full name, accents dropped",
    "national number, spaced",
    "number prefix (6 digits)",
    "extension",
    "email address",
    "substring of a last name",
    "no match",
];

/// A query of kind `kind` about a random person of `people`.
pub fn query(kind: usize, people: &[Person], rng: &mut StdRng) -> String {
    let p = &people[rng.random_range(0..people.len())];
    let mut name = p.display_name.split(' ');
    let first = name.next().unwrap_or("a").to_owned();
    let last = p.display_name[first.len()..].trim().to_owned();
    let digits: String = p.phone_work.chars().filter(char::is_ascii_digit).collect();
    // The generator writes +1 and +44 numbers.
    let national = digits
        .strip_prefix('1')
        .or_else(|| digits.strip_prefix("44"))
        .unwrap_or(&digits);
    match kind {
        0 => last,
        1 => first.chars().take(1).collect(),
        2 => first.chars().take(3).collect(),
        3 => p.display_name.clone(),
        4 => ascii(&p.display_name),
        5 => format!(
            "{} {} {}",
            &national[..3.min(national.len())],
            &national[3.min(national.len())..6.min(national.len())],
            &national[6.min(national.len())..]
        ),
        6 => digits[..6.min(digits.len())].to_owned(),
        7 => p
            .line_uri
            .rsplit_once("ext=")
            .map_or_else(|| "1234".to_owned(), |(_, e)| e.to_owned()),
        8 => p.email.clone(),
        9 => {
            let l: Vec<char> = ascii(&last)
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect();
            if l.len() > 4 {
                l[1..5].iter().collect()
            } else {
                l.iter().collect()
            }
        }
        _ => "zzqxv".to_owned(),
    }
}

/// A fixed-seed generator for query draws.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(42)
}
