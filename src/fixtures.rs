//! A seeded generator of realistic timed incidents for tests, benchmarks and the default data.
//!
//! Incidents fall on land inside the districts: tight *planted* micro-hotspots in town
//! centres, town-scale clusters weighted towards North and East Kent and Maidstone, and a
//! thin background. Times follow planted peak windows (weekdays 15:00–16:00, every day
//! 18:00–20:00, Friday and Saturday 23:00–01:00) over a uniform background, across a whole
//! year so that both DST changes are crossed. The same seed always gives the same file.

use std::io::Write;
use std::path::Path;

pub mod partners;

use jiff::civil::{Date, DateTime};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::boundaries::{BoundaryPack, DistrictIndex};
use crate::crs::{CrsError, Transformer};

/// A planted micro-hotspot: name, longitude, latitude, share of planted incidents.
pub const PLANTED_HOTSPOTS: [(&str, f64, f64, f64); 8] = [
    ("Chatham High Street", 0.5275, 51.3815, 0.18),
    ("Margate seafront", 1.3837, 51.3893, 0.15),
    ("Maidstone town centre", 0.5219, 51.2738, 0.15),
    ("Canterbury centre", 1.0788, 51.2797, 0.12),
    ("Gravesend town centre", 0.3709, 51.4424, 0.1),
    ("Ashford town centre", 0.8722, 51.1486, 0.1),
    ("Folkestone centre", 1.1797, 51.0806, 0.1),
    ("Dover town centre", 1.3136, 51.1254, 0.1),
];

/// Towns: name, longitude, latitude, relative weight, spread (metres).
const TOWNS: [(&str, f64, f64, f64, f64); 19] = [
    ("Chatham/Gillingham", 0.55, 51.38, 14.0, 2000.0),
    ("Maidstone", 0.522, 51.272, 10.0, 1600.0),
    ("Canterbury", 1.08, 51.28, 7.0, 1300.0),
    ("Margate", 1.385, 51.387, 7.0, 1200.0),
    ("Ramsgate", 1.416, 51.335, 6.0, 1100.0),
    ("Dover", 1.305, 51.13, 5.0, 1200.0),
    ("Folkestone", 1.17, 51.085, 5.0, 1300.0),
    ("Ashford", 0.873, 51.146, 6.0, 1500.0),
    ("Gravesend", 0.37, 51.438, 5.0, 1200.0),
    ("Dartford", 0.218, 51.446, 5.0, 1200.0),
    ("Sittingbourne", 0.735, 51.34, 4.0, 1200.0),
    ("Sheerness", 0.765, 51.435, 3.0, 900.0),
    ("Tunbridge Wells", 0.263, 51.132, 3.0, 1100.0),
    ("Tonbridge", 0.274, 51.195, 2.0, 1000.0),
    ("Sevenoaks", 0.19, 51.272, 2.0, 900.0),
    ("Herne Bay", 1.128, 51.372, 2.0, 900.0),
    ("Deal", 1.40, 51.223, 1.5, 800.0),
    ("Whitstable", 1.025, 51.36, 1.5, 800.0),
    ("Faversham", 0.89, 51.316, 1.0, 700.0),
];

/// Offence texts with group share: (text, weight).
const OFFENCES: [(&str, f64); 14] = [
    ("Assault with injury (ABH)", 20.0),
    ("Wounding with intent (GBH)", 6.0),
    ("Robbery of personal property", 7.0),
    ("Possession of a bladed article", 4.0),
    ("Threats with a knife", 2.0),
    ("Assault linked to drug supply", 5.0),
    ("Sexual assault", 6.0),
    ("Rape", 2.0),
    ("Common assault", 18.0),
    ("Public order offence", 10.0),
    ("Criminal damage", 8.0),
    ("Theft from the person", 5.0),
    ("Harassment", 4.0),
    ("Homicide", 0.05),
];

const LOCATIONS: [&str; 6] = [
    "street",
    "night-time economy venue",
    "residential",
    "school or college",
    "transport hub",
    "park or open space",
];

/// Spread (standard deviation, metres) of the planted micro-hotspots.
pub const PLANTED_SIGMA_M: f64 = 70.0;

/// Generator options.
#[derive(Debug, Clone)]
pub struct FixtureOptions {
    /// Random seed.
    pub seed: u64,
    /// Number of incidents.
    pub count: usize,
    /// First day of the period (local).
    pub start: Date,
    /// Number of days.
    pub days: i32,
    /// Share of incidents in planted micro-hotspots.
    pub planted_share: f64,
    /// Share of incidents spread uniformly over land.
    pub background_share: f64,
    /// Share of incidents whose time falls in a planted peak window.
    pub peak_time_share: f64,
    /// Write easting/northing (EPSG:27700) instead of longitude/latitude.
    pub bng: bool,
}

impl Default for FixtureOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            count: 1000,
            start: jiff::civil::date(2025, 1, 1),
            days: 365,
            planted_share: 0.3,
            background_share: 0.15,
            peak_time_share: 0.5,
            bng: false,
        }
    }
}

/// One generated row.
#[derive(Debug, Clone)]
pub struct FixtureRow {
    /// Identifier.
    pub id: String,
    /// Offence text.
    pub offence: &'static str,
    /// Start, Europe/London.
    pub from: jiff::Zoned,
    /// End, if any.
    pub to: Option<jiff::Zoned>,
    /// Easting, metres (rounded to 0.1 m as written).
    pub x_m: f64,
    /// Northing, metres (rounded to 0.1 m as written).
    pub y_m: f64,
    /// Longitude, degrees (rounded to 6 decimals as written).
    pub lon: f64,
    /// Latitude, degrees (rounded to 6 decimals as written).
    pub lat: f64,
    /// Victim age.
    pub victim_age: Option<u8>,
    /// Suspect age.
    pub suspect_age: Option<u8>,
    /// Location type.
    pub location_type: &'static str,
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut r = rng.random::<f64>() * total;
    for (v, w) in items {
        if r < *w {
            return *v;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A time inside one of the planted peak windows, or uniformly over the week.
fn draw_time(rng: &mut ChaCha8Rng, opts: &FixtureOptions) -> DateTime {
    loop {
        let day = opts.start + jiff::Span::new().days(rng.random_range(0..opts.days) as i64);
        let wd = day.weekday().to_monday_zero_offset(); // 0 = Monday
        let minute_of_day: i32 = if rng.random::<f64>() < opts.peak_time_share {
            // Which window: weekday 15-16, daily 18-20, Fri/Sat 23-01.
            match rng.random_range(0..3) {
                0 => {
                    if wd >= 5 {
                        continue;
                    }
                    15 * 60 + rng.random_range(0..60)
                }
                1 => 18 * 60 + rng.random_range(0..120),
                _ => {
                    // 23:00–01:00 starting Friday or Saturday evening.
                    if wd != 4 && wd != 5 {
                        continue;
                    }
                    23 * 60 + rng.random_range(0..120)
                }
            }
        } else {
            rng.random_range(0..24 * 60)
        };
        let (d, m) = if minute_of_day >= 24 * 60 {
            (day.tomorrow().unwrap_or(day), minute_of_day - 24 * 60)
        } else {
            (day, minute_of_day)
        };
        return d.at((m / 60) as i8, (m % 60) as i8, 0, 0);
    }
}

/// Generates incidents (positions in EPSG:27700, times in local civil time).
pub fn generate(
    pack: &BoundaryPack,
    index: &DistrictIndex,
    opts: &FixtureOptions,
) -> Result<Vec<FixtureRow>, CrsError> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let to_bng = Transformer::wgs84_to_bng()?;
    let to_wgs = Transformer::bng_to_wgs84()?;
    // What ingest will make of a written longitude/latitude (its lattice, within 3 cm of
    // exact OSTN15): a point kept must land where ingest puts it.
    let ingest_to_bng = crate::incidents::ingest_lattice(index)?;
    let mut planted = Vec::new();
    for (_, lon, lat, w) in PLANTED_HOTSPOTS {
        let (x, y) = to_bng.convert(lon, lat)?;
        planted.push(((x, y), w));
    }
    let mut towns = Vec::new();
    for (_, lon, lat, w, s) in TOWNS {
        let (x, y) = to_bng.convert(lon, lat)?;
        towns.push(((x, y, s), w));
    }
    let bbox = pack.bbox();
    let mut rows = Vec::with_capacity(opts.count);
    let width = (opts.count.max(1) as f64).log10().ceil() as usize + 1;
    while rows.len() < opts.count {
        let u: f64 = rng.random();
        let (x, y) = if u < opts.planted_share {
            let (cx, cy) = pick(&mut rng, &planted);
            (
                cx + normal(&mut rng) * PLANTED_SIGMA_M,
                cy + normal(&mut rng) * PLANTED_SIGMA_M,
            )
        } else if u < opts.planted_share + opts.background_share {
            let Some(b) = bbox else { break };
            (
                rng.random_range(b.min().x..b.max().x),
                rng.random_range(b.min().y..b.max().y),
            )
        } else {
            let (cx, cy, s) = pick(&mut rng, &towns);
            (cx + normal(&mut rng) * s, cy + normal(&mut rng) * s)
        };
        // Keep the point only if it is on land exactly as it will be written, in both the
        // 6-decimal degrees and the 0.1 m grid forms.
        let (rx, ry) = ((x * 10.0).round() / 10.0, (y * 10.0).round() / 10.0);
        let (lon, lat) = to_wgs.convert(x, y)?;
        let (lon, lat) = ((lon * 1e6).round() / 1e6, (lat * 1e6).round() / 1e6);
        let (bx, by) = ingest_to_bng.convert(lon, lat)?;
        if index.locate(rx, ry).is_none() || index.locate(bx, by).is_none() {
            continue; // in the sea or outside the area: draw again
        }
        // Resolve the local time through Europe/London (a time drawn in the spring-forward gap
        // becomes the instant after it) and take the end as an elapsed span after that instant.
        let tz = &crate::incidents::time::LONDON;
        let Ok(from) = tz
            .to_ambiguous_zoned(draw_time(&mut rng, opts))
            .compatible()
        else {
            continue;
        };
        let span_min = match rng.random::<f64>() {
            r if r < 0.7 => None,
            r if r < 0.9 => Some(rng.random_range(5..90)),
            _ => Some(rng.random_range(60..600)),
        };
        let to = span_min.and_then(|m| from.checked_add(jiff::Span::new().minutes(m)).ok());
        let offence = pick(&mut rng, &OFFENCES);
        let age = |rng: &mut ChaCha8Rng| -> Option<u8> {
            if rng.random::<f64>() < 0.2 {
                return None;
            }
            let a = 17.0 + normal(rng).abs() * if rng.random::<f64>() < 0.6 { 4.0 } else { 18.0 };
            Some((a.round() as i64).clamp(10, 90) as u8)
        };
        let victim_age = age(&mut rng);
        let suspect_age = age(&mut rng);
        let location_type = LOCATIONS[rng.random_range(0..LOCATIONS.len())];
        rows.push(FixtureRow {
            id: format!("KM-{:0width$}", rows.len() + 1),
            offence,
            from,
            to,
            x_m: rx,
            y_m: ry,
            lon,
            lat,
            victim_age,
            suspect_age,
            location_type,
        });
    }
    Ok(rows)
}

/// Writes rows in the timed CSV format to a file (see [`write_csv_to`]).
pub fn write_csv(rows: &[FixtureRow], bng: bool, out: &Path) -> std::io::Result<()> {
    let mut w = crate::output::AtomicFile::create(out)?;
    write_csv_to(rows, bng, &mut w)?;
    w.commit()
}

/// Writes rows in the timed CSV format (naive local times; one in ten with its offset).
pub fn write_csv_to(rows: &[FixtureRow], bng: bool, w: &mut impl Write) -> std::io::Result<()> {
    // The positions the generator checked: the grid form, or its rounded degrees.
    let coords: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| if bng { (r.x_m, r.y_m) } else { (r.lon, r.lat) })
        .collect();
    let (xn, yn) = if bng {
        ("easting", "northing")
    } else {
        ("longitude", "latitude")
    };
    writeln!(
        w,
        "id,offence,occurred_from,occurred_to,{xn},{yn},victim_age,suspect_age,location_type"
    )?;
    // Naive local time, except one row in ten and every time in the autumn fold (which a
    // naive time could not tell apart), which carry their offset.
    let fmt_time = |i: usize, t: &jiff::Zoned| -> String {
        let ambiguous = crate::incidents::time::LONDON
            .to_ambiguous_zoned(t.datetime())
            .is_ambiguous();
        if i % 10 == 3 || ambiguous {
            t.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
        } else {
            t.strftime("%Y-%m-%dT%H:%M").to_string()
        }
    };
    for (i, (r, (x, y))) in rows.iter().zip(coords).enumerate() {
        let age = |a: Option<u8>| a.map(|v| v.to_string()).unwrap_or_default();
        let (xs, ys) = if bng {
            (format!("{x:.1}"), format!("{y:.1}"))
        } else {
            (format!("{x:.6}"), format!("{y:.6}"))
        };
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{}",
            r.id,
            r.offence,
            fmt_time(i, &r.from),
            r.to.as_ref().map(|t| fmt_time(i, t)).unwrap_or_default(),
            xs,
            ys,
            age(r.victim_age),
            age(r.suspect_age),
            r.location_type
        )?;
    }
    Ok(())
}

/// police.uk's crime type for a generated offence text (its published categories).
pub fn police_uk_crime_type(offence: &str) -> &'static str {
    let o = offence.to_ascii_lowercase();
    if o.contains("robbery") {
        "Robbery"
    } else if o.contains("possession") {
        "Possession of weapons"
    } else if o.contains("public order") {
        "Public order"
    } else if o.contains("criminal damage") {
        "Criminal damage and arson"
    } else if o.contains("theft from the person") {
        "Theft from the person"
    } else {
        "Violence and sexual offences"
    }
}

/// Writes rows as police.uk street-level crime files, one per local calendar month
/// (`DIR/YYYY-MM-<force>-street.csv`, the police.uk header; Crime ID a 64-hex digest of the
/// row id; Month from the start; the 6-decimal degrees the generator checked). Returns the
/// files written, in month order.
///
/// # Errors
/// A file cannot be written.
pub fn write_police_uk(
    rows: &[FixtureRow],
    force: &str,
    dir: &Path,
) -> std::io::Result<Vec<(std::path::PathBuf, usize)>> {
    use sha2::Digest;
    let slug = force.to_ascii_lowercase().replace(' ', "-");
    let slug = slug.trim_end_matches("-police");
    let mut months: std::collections::BTreeMap<String, Vec<&FixtureRow>> = Default::default();
    for r in rows {
        months
            .entry(r.from.strftime("%Y-%m").to_string())
            .or_default()
            .push(r);
    }
    let mut written = Vec::new();
    for (month, rows) in months {
        let path = dir.join(format!("{month}-{slug}-street.csv"));
        let mut w = crate::output::AtomicFile::create(&path)?;
        writeln!(
            w,
            "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context"
        )?;
        for r in &rows {
            let id = sha2::Sha256::digest(r.id.as_bytes());
            let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
            writeln!(
                w,
                "{hex},{month},{force},{force},{:.6},{:.6},On or near {},,,{},Investigation complete; no suspect identified,",
                r.lon,
                r.lat,
                r.location_type,
                police_uk_crime_type(r.offence),
            )?;
        }
        w.commit()?;
        written.push((path, rows.len()));
    }
    Ok(written)
}

/// The committed default fixture (`fixtures/kent_incidents.csv`), embedded in the binary.
pub const DEFAULT_FIXTURE: &[u8] = include_bytes!("../fixtures/kent_incidents.csv");
/// Name used for the embedded fixture in reports.
pub const DEFAULT_FIXTURE_NAME: &str = "fixtures/kent_incidents.csv (embedded)";
/// Seed and count the default fixture was made with (see README).
pub const DEFAULT_FIXTURE_SEED: u64 = 20260101;
/// Number of incidents in the default fixture.
pub const DEFAULT_FIXTURE_COUNT: usize = 20_000;
