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

/// Maps a Swedish event type or register label to `(code, group)`.
///
/// Matching ignores case, surrounding space and punctuation differences (`Misshandel, grov` and
/// `Misshandel grov` are the same). Unknown labels keep a slug of their own text as code; the
/// group is `default_group` (Polisen: non-crime, since the feed also carries rescue events; a
/// police crime register: other crime).
pub fn classify(label: &str, default_group: CategoryGroup) -> (String, CategoryGroup) {
    let norm = normalise(label);
    use CategoryGroup::*;
    let known: Option<(&str, CategoryGroup)> = match norm.as_str() {
        "misshandel" => Some(("assault", Violence)),
        "misshandel grov" => Some(("aggravated_assault", Violence)),
        "mord dråp" => Some(("homicide", Violence)),
        "mord dråp försök" => Some(("attempted_homicide", Violence)),
        "olaga hot" => Some(("unlawful_threat", Violence)),
        "våldtäkt" => Some(("rape", Violence)),
        "våldtäkt försök" => Some(("attempted_rape", Violence)),
        "sedlighetsbrott" | "sexualbrott" => Some(("sexual_offence", Violence)),
        "rån" | "rån övrigt" => Some(("robbery", Violence)),
        "rån väpnat" => Some(("armed_robbery", Violence)),
        "rån försök" => Some(("attempted_robbery", Violence)),
        "personrån" => Some(("personal_robbery", Violence)),
        "våld hot mot tjänsteman" => Some(("violence_against_official", Violence)),
        "olaga frihetsberövande" => Some(("unlawful_detention", Violence)),
        "vållande till kroppsskada" => Some(("bodily_harm_negligence", Violence)),
        "stöld" => Some(("theft", Property)),
        "stöld försök" => Some(("attempted_theft", Property)),
        "stöld inbrott" => Some(("theft_burglary", Property)),
        "inbrott" => Some(("burglary", Property)),
        "inbrott försök" => Some(("attempted_burglary", Property)),
        "häleri" => Some(("receiving_stolen_goods", Property)),
        "bedrägeri" => Some(("fraud", Property)),
        "motorfordon stöld" => Some(("vehicle_theft", Property)),
        "motorfordon anträffat stulet" => Some(("stolen_vehicle_found", Property)),
        "cykelstöld" => Some(("bicycle_theft", Property)),
        "narkotikabrott" | "narkotika" => Some(("drug_offence", Drugs)),
        "skadegörelse" => Some(("vandalism", Vandalism)),
        "klotter" => Some(("graffiti", Vandalism)),
        "mordbrand" => Some(("arson", Vandalism)),
        "bråk" => Some(("disturbance", Disorder)),
        "ofredande förargelse" => Some(("harassment", Disorder)),
        "ofredande" => Some(("harassment", Disorder)),
        "fylleri" | "fylleri lob" => Some(("drunkenness", Disorder)),
        "olaga intrång" | "olaga intrång hemfridsbrott" | "hemfridsbrott" => {
            Some(("trespass", Disorder))
        }
        "alkohollagen" => Some(("alcohol_act", Disorder)),
        "ofog barn ungdom" => Some(("youth_mischief", Disorder)),
        "vapenlagen" => Some(("weapons_act", Weapons)),
        "knivlagen" => Some(("knife_act", Weapons)),
        "skottlossning" => Some(("shooting", Weapons)),
        "skottlossning misstänkt" => Some(("suspected_shooting", Weapons)),
        "explosion" | "detonation" => Some(("explosion", Weapons)),
        "bombhot" => Some(("bomb_threat", Weapons)),
        "farligt föremål misstänkt" => Some(("suspicious_object", Weapons)),
        "rattfylleri" => Some(("drunk_driving", OtherCrime)),
        "olovlig körning" => Some(("unlicensed_driving", OtherCrime)),
        "trafikbrott" => Some(("traffic_offence", OtherCrime)),
        "missbruk av urkund" => Some(("document_misuse", OtherCrime)),
        "förfalskningsbrott" => Some(("forgery", OtherCrime)),
        "ekobrott" => Some(("economic_crime", OtherCrime)),
        "miljöbrott" => Some(("environmental_crime", OtherCrime)),
        "skyddslagen" => Some(("protection_act", OtherCrime)),
        "utlänningslagen" => Some(("aliens_act", OtherCrime)),
        "sabotage mot blåljusverksamhet" => Some(("sabotage_emergency", OtherCrime)),
        "trafikolycka" => Some(("traffic_accident", Traffic)),
        "trafikolycka personskada" => Some(("traffic_accident_injury", Traffic)),
        "trafikolycka singel" => Some(("traffic_accident_single", Traffic)),
        "trafikolycka vilt" => Some(("traffic_accident_wildlife", Traffic)),
        "trafikolycka smitning" => Some(("traffic_accident_hit_and_run", Traffic)),
        "trafikkontroll" => Some(("traffic_check", Traffic)),
        "trafikhinder" => Some(("traffic_obstruction", Traffic)),
        "kontroll" | "kontroll person fordon" => Some(("police_check", NonCrime)),
        "brand" => Some(("fire", Fire)),
        "brand automatlarm" => Some(("fire_alarm", Fire)),
        "räddningsinsats" => Some(("rescue", Fire)),
        "försvunnen person" => Some(("missing_person", NonCrime)),
        "fjällräddning" => Some(("mountain_rescue", NonCrime)),
        "arbetsplatsolycka" => Some(("workplace_accident", NonCrime)),
        "djur" | "djur skadat omhändertaget" => Some(("animal", NonCrime)),
        "information" => Some(("information", NonCrime)),
        "övrigt" => Some(("other", NonCrime)),
        "anträffad död" => Some(("found_dead", NonCrime)),
        "anträffat gods" => Some(("found_property", NonCrime)),
        "sjukdom olycksfall" => Some(("illness_accident", NonCrime)),
        "polisinsats kommendering" => Some(("police_operation", NonCrime)),
        "larm inbrott" => Some(("burglar_alarm", NonCrime)),
        "larm överfall" => Some(("assault_alarm", NonCrime)),
        "naturkatastrof" => Some(("natural_disaster", NonCrime)),
        "uppdatering" => Some(("update", Summary)),
        _ => None,
    };
    if let Some((code, group)) = known {
        return (code.to_string(), group);
    }
    if norm.starts_with("sammanfattning") {
        return ("summary".to_string(), Summary);
    }
    (slug(&norm), default_group)
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
