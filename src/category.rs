//! Crime categories: Polisen's event types and free-text register labels mapped onto stable codes
//! and groups.
//!
//! Polisen publishes Swedish event types (`Misshandel, grov`, `Stöld/inbrott`, `Sammanfattning
//! natt`, …). Each is mapped to a stable English code and a group by the table
//! `data/polisen_categories.csv`, which is built into the binary and parsed once. Groups decide what counts as
//! crime: traffic accidents, fires, missing persons and summaries are kept but are not crime
//! unless the user asks for them by name.
//!
//! | group | examples |
//! | --- | --- |
//! | violence | Misshandel, Mord/dråp, Olaga hot, Våldtäkt, Rån, Våld/hot mot tjänsteman |
//! | property | Stöld, Inbrott, Stöld/inbrott, Häleri, Bedrägeri, Motorfordon stöld |
//! | drugs | Narkotikabrott |
//! | vandalism | Skadegörelse, Mordbrand, Klotter |
//! | disorder | Bråk, Ofredande/förargelse, Fylleri/LOB, Olaga intrång, Hemfridsbrott, Alkohollagen |
//! | weapons | Vapenlagen, Knivlagen, Skottlossning, Explosion, Detonation, Bombhot |
//! | other_crime | Rattfylleri, Olovlig körning, Trafikbrott, Missbruk av urkund, other crimes |
//! | traffic | Trafikolycka (all kinds), Trafikkontroll, Trafikhinder |
//! | fire | Brand, Räddningsinsats |
//! | non_crime | Försvunnen person, Fjällräddning, Arbetsplatsolycka, Djur, Information, Övrigt, … |
//! | summary | Sammanfattning natt/kväll/dag/vecka, Uppdatering |

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryGroup {
    Violence,
    Property,
    Drugs,
    Vandalism,
    Disorder,
    Weapons,
    OtherCrime,
    Traffic,
    Fire,
    NonCrime,
    Summary,
}

impl CategoryGroup {
    /// In the order of declaration: `ALL[g as usize] == g` (the filter column packs groups so).
    pub const ALL: [CategoryGroup; 11] = [
        Self::Violence,
        Self::Property,
        Self::Drugs,
        Self::Vandalism,
        Self::Disorder,
        Self::Weapons,
        Self::OtherCrime,
        Self::Traffic,
        Self::Fire,
        Self::NonCrime,
        Self::Summary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Violence => "violence",
            Self::Property => "property",
            Self::Drugs => "drugs",
            Self::Vandalism => "vandalism",
            Self::Disorder => "disorder",
            Self::Weapons => "weapons",
            Self::OtherCrime => "other_crime",
            Self::Traffic => "traffic",
            Self::Fire => "fire",
            Self::NonCrime => "non_crime",
            Self::Summary => "summary",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    pub fn label_sv(self) -> &'static str {
        match self {
            Self::Violence => "Våld",
            Self::Property => "Stöld och inbrott",
            Self::Drugs => "Narkotika",
            Self::Vandalism => "Skadegörelse",
            Self::Disorder => "Ordningsstörning",
            Self::Weapons => "Vapen",
            Self::OtherCrime => "Övriga brott",
            Self::Traffic => "Trafik",
            Self::Fire => "Brand",
            Self::NonCrime => "Ej brott",
            Self::Summary => "Sammanfattning",
        }
    }

    /// Whether events of this group are crime by default.
    pub fn is_crime(self) -> bool {
        matches!(
            self,
            Self::Violence
                | Self::Property
                | Self::Drugs
                | Self::Vandalism
                | Self::Disorder
                | Self::Weapons
                | Self::OtherCrime
        )
    }
}

/// The Polisen event type → category table, `data/polisen_categories.csv` (columns `type`,
/// `code`, `group`), built into the binary.
const TABLE_CSV: &str = include_str!("../data/polisen_categories.csv");

/// One row of the table: a label, normalised (see [`normalise`]), with its code and group. The
/// first row of a code gives its name in Swedish (see [`label_sv`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownLabel {
    /// The label as Polisen or a register writes it (`Misshandel, grov`).
    pub label: String,
    /// [`normalise`]d `label`, what input is matched against (`misshandel grov`).
    pub normalised: String,
    pub code: String,
    pub group: CategoryGroup,
}

/// The table, parsed once, on first use. It is checked by this module's tests; a malformed
/// table cannot reach a release.
fn known() -> &'static [KnownLabel] {
    static KNOWN: std::sync::LazyLock<Vec<KnownLabel>> = std::sync::LazyLock::new(|| {
        parse_table(TABLE_CSV)
            .unwrap_or_else(|e| panic!("data/polisen_categories.csv is malformed: {e}"))
    });
    &KNOWN
}

/// Parses a category table: a header `type,code,group`, then one row per label. Refuses empty
/// fields, codes that are not `snake_case` ASCII, unknown groups, a label given twice (after
/// normalising) and a code given in two groups.
pub fn parse_table(csv_text: &str) -> Result<Vec<KnownLabel>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv_text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    if headers.iter().collect::<Vec<_>>() != ["type", "code", "group"] {
        return Err(format!("header {headers:?}, expected type,code,group"));
    }
    let mut out: Vec<KnownLabel> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| format!("line {line}: {e}"))?;
        let (label, code, group) = (&record[0], &record[1], &record[2]);
        let normalised = normalise(label);
        if normalised.is_empty() {
            return Err(format!("line {line}: empty type"));
        }
        if code.is_empty()
            || !code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "line {line}: code {code:?} is not snake_case ASCII"
            ));
        }
        let group = CategoryGroup::parse(group)
            .ok_or_else(|| format!("line {line}: unknown group {group:?}"))?;
        if let Some(prev) = out.iter().find(|k| k.normalised == normalised) {
            return Err(format!(
                "line {line}: {label:?} is the same type as {:?}",
                prev.label
            ));
        }
        if let Some(prev) = out.iter().find(|k| k.code == code && k.group != group) {
            return Err(format!(
                "line {line}: code {code} in group {}, but {:?} puts it in {}",
                group.as_str(),
                prev.label,
                prev.group.as_str()
            ));
        }
        out.push(KnownLabel {
            label: label.to_string(),
            normalised,
            code: code.to_string(),
            group,
        });
    }
    if out.is_empty() {
        return Err("no rows".to_string());
    }
    Ok(out)
}

/// Maps a Swedish event type or register label to `(code, group)`.
///
/// Matching ignores case, surrounding space and punctuation differences (`Misshandel, grov` and
/// `Misshandel grov` are the same). Unknown labels keep a slug of their own text as code; the
/// group is `default_group` (Polisen: non-crime, since the feed also carries rescue events; a
/// police crime register: other crime).
pub fn classify(label: &str, default_group: CategoryGroup) -> (String, CategoryGroup) {
    let norm = normalise(label);
    use CategoryGroup::*;
    if let Some(k) = known().iter().find(|k| k.normalised == norm) {
        return (k.code.clone(), k.group);
    }
    if norm.starts_with("sammanfattning") {
        return ("summary".to_string(), Summary);
    }
    (slug(&norm), default_group)
}

/// The Swedish name of a category code (`theft` → `Stöld`), for people reading a table; codes
/// made from unknown labels have none.
pub fn label_sv(code: &str) -> Option<String> {
    let k = known().iter().find(|k| k.code == code)?;
    let mut chars = k.label.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// Every known code with its Swedish name, for the web app.
pub fn labels_sv() -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for k in known() {
        if !out.iter().any(|(c, _)| *c == k.code) {
            out.push((k.code.as_str(), label_sv(&k.code).unwrap_or_default()));
        }
    }
    out
}

fn normalise(label: &str) -> String {
    let lower = label.trim().to_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut last_space = true;
    for c in lower.chars() {
        if c.is_alphanumeric() {
            out.push(c);
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    out.trim_end().to_string()
}

fn slug(norm: &str) -> String {
    let s: String = norm
        .chars()
        .map(|c| match c {
            'å' | 'ä' => 'a',
            'ö' => 'o',
            'é' => 'e',
            c if c.is_ascii_alphanumeric() => c,
            _ => '_',
        })
        .collect();
    if s.is_empty() {
        "unknown".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_swedish_names_that_classify_back_to_them() {
        assert_eq!(label_sv("theft").as_deref(), Some("Stöld"));
        assert_eq!(label_sv("assault").as_deref(), Some("Misshandel"));
        assert_eq!(label_sv("trespass").as_deref(), Some("Olaga intrång"));
        assert_eq!(label_sv("no_such_code"), None);
        let all = labels_sv();
        let mut codes: Vec<&str> = all.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "each code once");
        // Every name is a label that classifies to its own code.
        for (code, name) in all {
            assert_eq!(classify(&name, CategoryGroup::OtherCrime).0, code, "{name}");
        }
    }

    #[test]
    fn polisen_types_map_to_groups() {
        assert_eq!(
            classify("Misshandel, grov", CategoryGroup::NonCrime),
            ("aggravated_assault".into(), CategoryGroup::Violence)
        );
        assert_eq!(
            classify("Stöld/inbrott", CategoryGroup::NonCrime).1,
            CategoryGroup::Property
        );
        assert_eq!(
            classify("Sammanfattning kväll och natt", CategoryGroup::NonCrime),
            ("summary".into(), CategoryGroup::Summary)
        );
        assert_eq!(
            classify("Trafikolycka, personskada", CategoryGroup::NonCrime).1,
            CategoryGroup::Traffic
        );
        assert!(!CategoryGroup::Traffic.is_crime());
        assert!(CategoryGroup::Drugs.is_crime());
    }

    #[test]
    fn the_table_in_data_is_well_formed() {
        let table = parse_table(TABLE_CSV).unwrap();
        assert_eq!(table.len(), known().len());
        // Every group has at least one type, so no group is unreachable by its table.
        for g in CategoryGroup::ALL {
            assert!(table.iter().any(|k| k.group == g), "{}", g.as_str());
        }
        // A code never straddles crime and non-crime through two groups (parse_table refuses
        // it); and names are written as Polisen writes them.
        assert_eq!(
            label_sv("aggravated_assault").as_deref(),
            Some("Misshandel, grov")
        );
        assert_eq!(label_sv("homicide").as_deref(), Some("Mord/dråp"));
    }

    #[test]
    fn every_type_polisen_published_maps_to_a_known_category() {
        // The 49 distinct `type` values among 500 events of Polisen's open API, August 2026.
        let published = [
            "Arbetsplatsolycka",
            "Bedrägeri",
            "Brand",
            "Bråk",
            "Djur",
            "Explosion",
            "Farligt föremål, misstänkt",
            "Fjällräddning",
            "Fylleri",
            "Försvunnen person",
            "Hemfridsbrott",
            "Häleri",
            "Inbrott",
            "Information",
            "Knivlagen",
            "Kontroll",
            "Missbruk av urkund",
            "Misshandel",
            "Misshandel, grov",
            "Mord/dråp",
            "Mord/dråp, försök",
            "Mordbrand",
            "Motorfordon, stöld",
            "Narkotikabrott",
            "Ofredande/förargelse",
            "Olaga hot",
            "Olaga intrång",
            "Olovlig körning",
            "Rattfylleri",
            "Räddningsinsats",
            "Rån",
            "Sammanfattning kväll och natt",
            "Sammanfattning natt",
            "Skadegörelse",
            "Skyddslagen",
            "Stöld",
            "Stöld, försök",
            "Stöld/inbrott",
            "Trafikbrott",
            "Trafikkontroll",
            "Trafikolycka",
            "Trafikolycka, personskada",
            "Trafikolycka, singel",
            "Trafikolycka, vilt",
            "Uppdatering",
            "Vapenlagen",
            "Våld/hot mot tjänsteman",
            "Vållande till kroppsskada",
            "Övrigt",
        ];
        let codes: Vec<&str> = known().iter().map(|k| k.code.as_str()).collect();
        for t in published {
            // A code from the table, not a slug of the text in the fallback group.
            let (code, group) = classify(t, CategoryGroup::OtherCrime);
            assert!(codes.contains(&code.as_str()), "{t} -> {code}");
            assert!(CategoryGroup::ALL.contains(&group));
        }
        // Spot checks against what the types mean.
        let group = |t: &str| classify(t, CategoryGroup::OtherCrime).1;
        assert_eq!(group("Olaga hot"), CategoryGroup::Violence);
        assert_eq!(group("Motorfordon, stöld"), CategoryGroup::Property);
        assert_eq!(group("Narkotikabrott"), CategoryGroup::Drugs);
        assert_eq!(group("Knivlagen"), CategoryGroup::Weapons);
        assert_eq!(group("Räddningsinsats"), CategoryGroup::Fire);
        assert_eq!(group("Försvunnen person"), CategoryGroup::NonCrime);
        assert_eq!(group("Uppdatering"), CategoryGroup::Summary);
    }

    #[test]
    fn malformed_tables_are_refused() {
        let ok = "type,code,group\nStöld,theft,property\n";
        assert!(parse_table(ok).is_ok());
        for bad in [
            "label,code,group\nStöld,theft,property\n",
            "type,code,group\n",
            "type,code,group\nStöld,theft,stealing\n",
            "type,code,group\nStöld,Theft!,property\n",
            "type,code,group\n\" \",theft,property\n",
            "type,code,group\nStöld,theft,property\nstöld.,theft,property\n",
            "type,code,group\nStöld,theft,property\nSnatteri,theft,non_crime\n",
            "type,code,group\nStöld,theft\n",
        ] {
            assert!(parse_table(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn unknown_labels_keep_a_slug_and_the_default_group() {
        assert_eq!(
            classify("Snöskottning på trottoar", CategoryGroup::OtherCrime),
            ("snoskottning_pa_trottoar".into(), CategoryGroup::OtherCrime)
        );
    }
}
