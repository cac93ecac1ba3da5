//! Deterministic, provider-neutral seed data: people, organisations, their
//! projects (the custom object) and invoices, each a pure function of (seed,
//! record number), so any record can be derived on demand without storing the
//! whole data set. Each provider turns these into its own raw shapes.

/// Base instant of the generated history: 2023-01-01T00:00:00Z.
pub const EPOCH_MS: i64 = 1_672_531_200_000;
/// Generated people are created this far apart (updates stay inside the gap,
/// so modification times grow with the record number).
pub const PERSON_STEP_MS: i64 = 30_000;
/// Generated organisations are created this far apart.
pub const ORG_STEP_MS: i64 = 150_000;
/// Generated invoices are created this far apart.
pub const INVOICE_STEP_MS: i64 = 60_000;

const FIRST: &[&str] = &[
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Edsger",
    "Frances",
    "Donald",
    "Hedy",
    "John",
    "Katherine",
    "Tim",
    "Sophie",
    "Niklaus",
    "Shafi",
    "Leslie",
    "Mary",
    "Bjarne",
    "Anita",
    "Guido",
    "Joan",
    "James",
    "Lynn",
    "Robert",
    "Carol",
    "Yukihiro",
    "Elena",
    "Omar",
    "Priya",
    "Mateo",
    "Ingrid",
    "Kwame",
    "Mei",
    "Lars",
    "Fatima",
    "Diego",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Dijkstra",
    "Allen",
    "Knuth",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Berners-Lee",
    "Wilson",
    "Wirth",
    "Goldwasser",
    "Lamport",
    "Jackson",
    "Stroustrup",
    "Borg",
    "van Rossum",
    "Clarke",
    "Gosling",
    "Conway",
    "Kahn",
    "Shaw",
    "Matsumoto",
    "Petrova",
    "Haddad",
    "Raman",
    "Garcia",
    "Nilsen",
    "Mensah",
    "Chen",
    "Eriksson",
    "Okafor",
    "Silva",
];
const TITLES: &[&str] = &[
    "CEO",
    "CTO",
    "Head of Sales",
    "Account Executive",
    "Office Manager",
    "Engineer",
    "Purchasing Manager",
    "Controller",
    "Marketing Lead",
    "Operations Director",
];
const LIFECYCLE: &[&str] = &[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "opportunity",
    "customer",
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Market St",
    "Harbor Rd",
    "Hill St",
    "Park Ave",
    "Elm St",
    "River Rd",
];
/// (city, state, postal prefix, country)
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Boston", "MA", "021", "United States"),
    ("Austin", "TX", "787", "United States"),
    ("Denver", "CO", "802", "United States"),
    ("Seattle", "WA", "981", "United States"),
    ("Chicago", "IL", "606", "United States"),
    ("Portland", "OR", "972", "United States"),
    ("Atlanta", "GA", "303", "United States"),
    ("Toronto", "ON", "M5V", "Canada"),
    ("Vancouver", "BC", "V6B", "Canada"),
    ("San Diego", "CA", "921", "United States"),
];
const ORG_PREFIX: &[&str] = &[
    "Northwind",
    "Blue Harbor",
    "Summit",
    "Redwood",
    "Silverline",
    "Bright",
    "Granite",
    "Pioneer",
    "Evergreen",
    "Crescent",
    "Ironbridge",
    "Lakeside",
    "Golden Gate",
    "Atlas",
    "Beacon",
];
const ORG_CORE: &[&str] = &[
    "Logistics",
    "Analytics",
    "Foods",
    "Robotics",
    "Health",
    "Energy",
    "Design",
    "Software",
    "Manufacturing",
    "Consulting",
    "Media",
    "Outfitters",
];
const ORG_SUFFIX: &[&str] = &["Inc", "LLC", "Ltd", "Group", "Co"];
const INDUSTRIES: &[&str] = &[
    "COMPUTER_SOFTWARE",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "FOOD_PRODUCTION",
    "HOSPITAL_HEALTH_CARE",
    "RENEWABLES_ENVIRONMENT",
    "DESIGN",
    "MACHINERY",
    "MANAGEMENT_CONSULTING",
    "MEDIA_PRODUCTION",
    "RETAIL",
];
/// Project stages (planned, active, done): each provider names them.
pub const PROJECT_STAGES: u64 = 3;
const ITEMS: &[(&str, u32)] = &[
    ("Consulting hours", 15_000),
    ("Software licence", 49_900),
    ("Support plan", 9_900),
    ("Hardware kit", 129_000),
    ("Training session", 75_000),
    ("Shipping", 2_500),
];

/// SplitMix64: a fast, well-mixed hash of a 64-bit value.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A small deterministic stream of numbers for one record.
struct Draw(u64);

impl Draw {
    fn new(seed: u64, kind: u64, n: u64) -> Self {
        Draw(mix(seed ^ mix(kind.wrapping_mul(0x1000_0000_01B3) ^ n)))
    }
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

/// A generated postal address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub street: String,
    pub city: &'static str,
    pub state: &'static str,
    pub postal_code: String,
    pub country: &'static str,
}

fn address(d: &mut Draw) -> Address {
    let (city, state, prefix, country) = d.pick(CITIES);
    let street = format!("{} {}", 1 + d.below(9_899), d.pick(STREETS));
    let postal_code = if country == "Canada" {
        format!("{prefix} {}A{}", d.below(10), d.below(10))
    } else {
        format!("{prefix}{:02}", d.below(100))
    };
    Address {
        street,
        city,
        state,
        postal_code,
        country,
    }
}

fn phone(d: &mut Draw) -> String {
    format!("+1 {} 555 {:04}", 200 + d.below(700), d.below(10_000))
}

/// A generated person (a HubSpot contact, Salesforce Contact, Pipedrive
/// person or QuickBooks customer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub n: u64,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub email: String,
    pub phone: String,
    pub mobile: Option<String>,
    pub title: &'static str,
    pub lifecycle: &'static str,
    pub address: Address,
    /// The organisation's record number, if the person belongs to one.
    pub org: Option<u64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A generated organisation (HubSpot company, Salesforce Account, Pipedrive
/// organization).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub n: u64,
    pub name: String,
    pub domain: String,
    pub industry: &'static str,
    pub phone: String,
    pub description: String,
    pub employees: u64,
    pub address: Address,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A generated project (a HubSpot `Projects` custom object record, a
/// Salesforce `Project__c`): one per organisation, sharing its number and
/// timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub n: u64,
    pub name: String,
    /// `PRJ-00042`: unique, the key upserts use.
    pub code: String,
    /// Whole currency units.
    pub budget: u64,
    /// The stage, `0..PROJECT_STAGES` (planned, active, done), cycling with
    /// the project number.
    pub stage: usize,
    /// Midnight UTC of the start day.
    pub start_ms: i64,
    /// The organisation's record number (the same as the project's).
    pub org: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A generated invoice line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub description: &'static str,
    pub quantity: u64,
    /// Unit price in cents.
    pub unit_cents: u64,
}

/// A generated invoice (QuickBooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub n: u64,
    /// The customer's (person's) record number.
    pub customer: u64,
    pub lines: Vec<Line>,
    pub total_cents: u64,
    pub balance_cents: u64,
    pub txn_ms: i64,
    pub due_ms: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The seeded data set: sizes plus the seed; every record is derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dataset {
    pub seed: u64,
    pub people: u64,
    pub orgs: u64,
    pub invoices: u64,
}

impl Dataset {
    /// When generated person `n` was last modified (cheap; grows with `n`).
    pub fn person_updated(&self, n: u64) -> i64 {
        let created = EPOCH_MS + n as i64 * PERSON_STEP_MS;
        created + (mix(self.seed ^ n.wrapping_mul(31)) % (PERSON_STEP_MS as u64 - 1000)) as i64
    }

    /// When generated organisation `n` was last modified (grows with `n`).
    pub fn org_updated(&self, n: u64) -> i64 {
        let created = EPOCH_MS + n as i64 * ORG_STEP_MS;
        created + (mix(self.seed ^ n.wrapping_mul(37)) % (ORG_STEP_MS as u64 - 1000)) as i64
    }

    /// When generated invoice `n` was last modified (grows with `n`).
    pub fn invoice_updated(&self, n: u64) -> i64 {
        let created = EPOCH_MS + n as i64 * INVOICE_STEP_MS;
        created + (mix(self.seed ^ n.wrapping_mul(41)) % (INVOICE_STEP_MS as u64 - 1000)) as i64
    }

    /// The organisation of person `n`, without generating the rest.
    pub fn person_org(&self, n: u64) -> Option<u64> {
        let mut d = Draw::new(self.seed, 1, n);
        d.next();
        d.next();
        (self.orgs > 0 && d.below(10) < 9).then(|| 1 + d.below(self.orgs))
    }

    /// Person number `n` (1-based).
    pub fn person(&self, n: u64) -> Person {
        let mut d = Draw::new(self.seed, 1, n);
        let first_name = d.pick(FIRST);
        let last_name = d.pick(LAST);
        let org = (self.orgs > 0 && d.below(10) < 9).then(|| 1 + d.below(self.orgs));
        let domain = match org {
            Some(o) => self.org_domain(o),
            None => ["mail.example.com", "inbox.example.net"][d.below(2) as usize].to_string(),
        };
        let email = format!(
            "{}.{}.{n}@{domain}",
            first_name.to_ascii_lowercase(),
            last_name.to_ascii_lowercase().replace(' ', "")
        );
        let phone = phone(&mut d);
        let mobile = (d.below(2) == 0).then(|| phone_mobile(&mut d));
        Person {
            n,
            first_name,
            last_name,
            email,
            phone,
            mobile,
            title: d.pick(TITLES),
            lifecycle: d.pick(LIFECYCLE),
            address: address(&mut d),
            org,
            created_ms: EPOCH_MS + n as i64 * PERSON_STEP_MS,
            updated_ms: self.person_updated(n),
        }
    }

    fn org_name_parts(&self, n: u64) -> (&'static str, &'static str, &'static str) {
        let mut d = Draw::new(self.seed, 2, n);
        (d.pick(ORG_PREFIX), d.pick(ORG_CORE), d.pick(ORG_SUFFIX))
    }

    /// The web domain of organisation `n` (unique per organisation).
    pub fn org_domain(&self, n: u64) -> String {
        let (prefix, core, _) = self.org_name_parts(n);
        format!(
            "{}-{}-{n}.example.com",
            prefix.to_ascii_lowercase().replace(' ', ""),
            core.to_ascii_lowercase()
        )
    }

    /// The name of organisation `n`.
    pub fn org_name(&self, n: u64) -> String {
        let (prefix, core, suffix) = self.org_name_parts(n);
        format!("{prefix} {core} {suffix}")
    }

    /// Organisation number `n` (1-based).
    pub fn org(&self, n: u64) -> Org {
        let (prefix, core, suffix) = self.org_name_parts(n);
        let mut d = Draw::new(self.seed, 3, n);
        let industry = d.pick(INDUSTRIES);
        Org {
            n,
            name: format!("{prefix} {core} {suffix}"),
            domain: self.org_domain(n),
            industry,
            phone: phone(&mut d),
            description: format!(
                "{prefix} {core} serves customers since {}.",
                1950 + d.below(70)
            ),
            employees: 1 + d.below(5_000),
            address: address(&mut d),
            created_ms: EPOCH_MS + n as i64 * ORG_STEP_MS,
            updated_ms: self.org_updated(n),
        }
    }

    /// Project number `n` (1-based), the project of organisation `n`; it was
    /// last modified when the organisation was (see [`Dataset::org_updated`]).
    pub fn project(&self, n: u64) -> Project {
        let mut d = Draw::new(self.seed, 5, n);
        let created_ms = EPOCH_MS + n as i64 * ORG_STEP_MS;
        let day = created_ms - created_ms.rem_euclid(86_400_000);
        Project {
            n,
            name: format!("{} rollout", self.org_name(n)),
            code: format!("PRJ-{n:05}"),
            budget: 1_000 * (5 + d.below(496)),
            stage: (n % PROJECT_STAGES) as usize,
            start_ms: day + d.below(365) as i64 * 86_400_000,
            org: n,
            created_ms,
            updated_ms: self.org_updated(n),
        }
    }

    /// Invoice number `n` (1-based); its customer is a person.
    pub fn invoice(&self, n: u64) -> Invoice {
        let mut d = Draw::new(self.seed, 4, n);
        let customer = 1 + d.below(self.people.max(1));
        let lines: Vec<Line> = (0..1 + d.below(3))
            .map(|_| {
                let (description, unit_cents) = d.pick(ITEMS);
                Line {
                    description,
                    quantity: 1 + d.below(10),
                    unit_cents: u64::from(unit_cents),
                }
            })
            .collect();
        let total_cents = lines.iter().map(|l| l.quantity * l.unit_cents).sum();
        let balance_cents = if d.below(3) == 0 { total_cents } else { 0 };
        let created_ms = EPOCH_MS + n as i64 * INVOICE_STEP_MS;
        Invoice {
            n,
            customer,
            lines,
            total_cents,
            balance_cents,
            txn_ms: created_ms - created_ms.rem_euclid(86_400_000),
            due_ms: created_ms - created_ms.rem_euclid(86_400_000) + 30 * 86_400_000,
            created_ms,
            updated_ms: self.invoice_updated(n),
        }
    }
}

fn phone_mobile(d: &mut Draw) -> String {
    format!("+1 {} 555 {:04}", 200 + d.below(700), d.below(10_000))
}

/// Cents as a QuickBooks/Salesforce decimal number.
pub fn money(cents: u64) -> f64 {
    cents as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_monotone() {
        let ds = Dataset {
            seed: 7,
            people: 1000,
            orgs: 100,
            invoices: 10,
        };
        assert_eq!(ds.person(5), ds.person(5));
        assert_ne!(ds.person(5), Dataset { seed: 8, ..ds }.person(5));
        for n in 1..999 {
            assert!(ds.person_updated(n) < ds.person_updated(n + 1));
            assert_eq!(ds.person(n).updated_ms, ds.person_updated(n));
        }
        let p = ds.person(42);
        assert!(p.email.ends_with(".example.com"));
        assert!(p.org.is_none_or(|o| (1..=100).contains(&o)));
        let project = ds.project(7);
        assert_eq!(project, ds.project(7));
        assert_eq!(project.code, "PRJ-00007");
        assert_eq!(project.name, format!("{} rollout", ds.org_name(7)));
        assert_eq!(project.updated_ms, ds.org(7).updated_ms);
        assert_eq!(project.start_ms.rem_euclid(86_400_000), 0);
        assert!((5_000..=500_000).contains(&project.budget));
    }
}
