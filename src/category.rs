//! Crime categories: Polisen's event types and free-text register labels mapped onto stable codes
//! and groups.
//!
//! Polisen publishes Swedish event types (`Misshandel, grov`, `Stöld/inbrott`, `Sammanfattning
//! natt`, …). Each is mapped to a stable English code and a group. Groups decide what counts as
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

/// Known labels, normalised (see [`normalise`]), with their code and group. The first label of
/// a code is its name in Swedish (see [`label_sv`]).
const KNOWN: &[(&str, &str, CategoryGroup)] = &[
    ("misshandel", "assault", CategoryGroup::Violence),
    (
        "misshandel grov",
        "aggravated_assault",
        CategoryGroup::Violence,
    ),
    ("mord dråp", "homicide", CategoryGroup::Violence),
    (
        "mord dråp försök",
        "attempted_homicide",
        CategoryGroup::Violence,
    ),
    ("olaga hot", "unlawful_threat", CategoryGroup::Violence),
    ("våldtäkt", "rape", CategoryGroup::Violence),
    ("våldtäkt försök", "attempted_rape", CategoryGroup::Violence),
    ("sedlighetsbrott", "sexual_offence", CategoryGroup::Violence),
    ("sexualbrott", "sexual_offence", CategoryGroup::Violence),
    ("rån", "robbery", CategoryGroup::Violence),
    ("rån övrigt", "robbery", CategoryGroup::Violence),
    ("rån väpnat", "armed_robbery", CategoryGroup::Violence),
    ("rån försök", "attempted_robbery", CategoryGroup::Violence),
    ("personrån", "personal_robbery", CategoryGroup::Violence),
    (
        "våld hot mot tjänsteman",
        "violence_against_official",
        CategoryGroup::Violence,
    ),
    (
        "olaga frihetsberövande",
        "unlawful_detention",
        CategoryGroup::Violence,
    ),
    (
        "vållande till kroppsskada",
        "bodily_harm_negligence",
        CategoryGroup::Violence,
    ),
    ("stöld", "theft", CategoryGroup::Property),
    ("stöld försök", "attempted_theft", CategoryGroup::Property),
    ("stöld inbrott", "theft_burglary", CategoryGroup::Property),
    ("inbrott", "burglary", CategoryGroup::Property),
    (
        "inbrott försök",
        "attempted_burglary",
        CategoryGroup::Property,
    ),
    ("häleri", "receiving_stolen_goods", CategoryGroup::Property),
    ("bedrägeri", "fraud", CategoryGroup::Property),
    (
        "motorfordon stöld",
        "vehicle_theft",
        CategoryGroup::Property,
    ),
    (
        "motorfordon anträffat stulet",
        "stolen_vehicle_found",
        CategoryGroup::Property,
    ),
    ("cykelstöld", "bicycle_theft", CategoryGroup::Property),
    ("narkotikabrott", "drug_offence", CategoryGroup::Drugs),
    ("narkotika", "drug_offence", CategoryGroup::Drugs),
    ("skadegörelse", "vandalism", CategoryGroup::Vandalism),
    ("klotter", "graffiti", CategoryGroup::Vandalism),
    ("mordbrand", "arson", CategoryGroup::Vandalism),
    ("bråk", "disturbance", CategoryGroup::Disorder),
    (
        "ofredande förargelse",
        "harassment",
        CategoryGroup::Disorder,
    ),
    ("ofredande", "harassment", CategoryGroup::Disorder),
    ("fylleri", "drunkenness", CategoryGroup::Disorder),
    ("fylleri lob", "drunkenness", CategoryGroup::Disorder),
    ("alkohollagen", "alcohol_act", CategoryGroup::Disorder),
    (
        "ofog barn ungdom",
        "youth_mischief",
        CategoryGroup::Disorder,
    ),
    ("vapenlagen", "weapons_act", CategoryGroup::Weapons),
    ("knivlagen", "knife_act", CategoryGroup::Weapons),
    ("skottlossning", "shooting", CategoryGroup::Weapons),
    (
        "skottlossning misstänkt",
        "suspected_shooting",
        CategoryGroup::Weapons,
    ),
    ("explosion", "explosion", CategoryGroup::Weapons),
    ("detonation", "explosion", CategoryGroup::Weapons),
    ("bombhot", "bomb_threat", CategoryGroup::Weapons),
    (
        "farligt föremål misstänkt",
        "suspicious_object",
        CategoryGroup::Weapons,
    ),
    ("rattfylleri", "drunk_driving", CategoryGroup::OtherCrime),
    (
        "olovlig körning",
        "unlicensed_driving",
        CategoryGroup::OtherCrime,
    ),
    ("trafikbrott", "traffic_offence", CategoryGroup::OtherCrime),
    (
        "missbruk av urkund",
        "document_misuse",
        CategoryGroup::OtherCrime,
    ),
    ("förfalskningsbrott", "forgery", CategoryGroup::OtherCrime),
    ("ekobrott", "economic_crime", CategoryGroup::OtherCrime),
    (
        "miljöbrott",
        "environmental_crime",
        CategoryGroup::OtherCrime,
    ),
    ("skyddslagen", "protection_act", CategoryGroup::OtherCrime),
    ("utlänningslagen", "aliens_act", CategoryGroup::OtherCrime),
    (
        "sabotage mot blåljusverksamhet",
        "sabotage_emergency",
        CategoryGroup::OtherCrime,
    ),
    ("trafikolycka", "traffic_accident", CategoryGroup::Traffic),
    (
        "trafikolycka personskada",
        "traffic_accident_injury",
        CategoryGroup::Traffic,
    ),
    (
        "trafikolycka singel",
        "traffic_accident_single",
        CategoryGroup::Traffic,
    ),
    (
        "trafikolycka vilt",
        "traffic_accident_wildlife",
        CategoryGroup::Traffic,
    ),
    (
        "trafikolycka smitning",
        "traffic_accident_hit_and_run",
        CategoryGroup::Traffic,
    ),
    ("trafikkontroll", "traffic_check", CategoryGroup::Traffic),
    (
        "trafikhinder",
        "traffic_obstruction",
        CategoryGroup::Traffic,
    ),
    ("kontroll", "police_check", CategoryGroup::NonCrime),
    (
        "kontroll person fordon",
        "police_check",
        CategoryGroup::NonCrime,
    ),
    ("brand", "fire", CategoryGroup::Fire),
    ("brand automatlarm", "fire_alarm", CategoryGroup::Fire),
    ("räddningsinsats", "rescue", CategoryGroup::Fire),
    (
        "försvunnen person",
        "missing_person",
        CategoryGroup::NonCrime,
    ),
    ("fjällräddning", "mountain_rescue", CategoryGroup::NonCrime),
    (
        "arbetsplatsolycka",
        "workplace_accident",
        CategoryGroup::NonCrime,
    ),
    ("djur", "animal", CategoryGroup::NonCrime),
    (
        "djur skadat omhändertaget",
        "animal",
        CategoryGroup::NonCrime,
    ),
    ("information", "information", CategoryGroup::NonCrime),
    ("övrigt", "other", CategoryGroup::NonCrime),
    ("anträffad död", "found_dead", CategoryGroup::NonCrime),
    ("anträffat gods", "found_property", CategoryGroup::NonCrime),
    (
        "sjukdom olycksfall",
        "illness_accident",
        CategoryGroup::NonCrime,
    ),
    (
        "polisinsats kommendering",
        "police_operation",
        CategoryGroup::NonCrime,
    ),
    ("larm inbrott", "burglar_alarm", CategoryGroup::NonCrime),
    ("larm överfall", "assault_alarm", CategoryGroup::NonCrime),
    (
        "naturkatastrof",
        "natural_disaster",
        CategoryGroup::NonCrime,
    ),
    ("uppdatering", "update", CategoryGroup::Summary),
    ("olaga intrång", "trespass", CategoryGroup::Disorder),
    (
        "olaga intrång hemfridsbrott",
        "trespass",
        CategoryGroup::Disorder,
    ),
    ("hemfridsbrott", "trespass", CategoryGroup::Disorder),
    ("sammanfattning", "summary", CategoryGroup::Summary),
];

/// Maps a Swedish event type or register label to `(code, group)`.
///
/// Matching ignores case, surrounding space and punctuation differences (`Misshandel, grov` and
/// `Misshandel grov` are the same). Unknown labels keep a slug of their own text as code; the
/// group is `default_group` (Polisen: non-crime, since the feed also carries rescue events; a
/// police crime register: other crime).
pub fn classify(label: &str, default_group: CategoryGroup) -> (String, CategoryGroup) {
    let norm = normalise(label);
    use CategoryGroup::*;
    let known = KNOWN
        .iter()
        .find(|(l, _, _)| *l == norm)
        .map(|&(_, code, group)| (code, group));
    if let Some((code, group)) = known {
        return (code.to_string(), group);
    }
    if norm.starts_with("sammanfattning") {
        return ("summary".to_string(), Summary);
    }
    (slug(&norm), default_group)
}

/// The Swedish name of a category code (`theft` → `Stöld`), for people reading a table; codes
/// made from unknown labels have none.
pub fn label_sv(code: &str) -> Option<String> {
    let (label, _, _) = KNOWN.iter().find(|(_, c, _)| *c == code)?;
    let mut chars = label.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// Every known code with its Swedish name, for the web app.
pub fn labels_sv() -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for (_, code, _) in KNOWN {
        if !out.iter().any(|(c, _)| c == code) {
            out.push((code, label_sv(code).unwrap_or_default()));
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
    fn unknown_labels_keep_a_slug_and_the_default_group() {
        assert_eq!(
            classify("Snöskottning på trottoar", CategoryGroup::OtherCrime),
            ("snoskottning_pa_trottoar".into(), CategoryGroup::OtherCrime)
        );
    }
}
