//! The Open311 services citizens can report to, with their attributes.
//!
//! Codes are stable English words (they are API, stored in the database and used by clients);
//! names and descriptions are Swedish because they are shown to citizens. Attribute values follow
//! Open311's `singlevaluelist` (one `key` out of `values`) or `string`.

use serde::Serialize;

use crate::model::ServiceCode;

/// Open311 attribute datatypes used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    String,
    Singlevaluelist,
}

impl Datatype {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Singlevaluelist => "singlevaluelist",
        }
    }
}

/// One attribute of a service definition.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    pub code: &'static str,
    pub datatype: Datatype,
    pub required: bool,
    pub datatype_description: Option<&'static str>,
    pub order: u32,
    /// The question put to the citizen.
    pub description: &'static str,
    /// `(key, name)` pairs of a list attribute.
    pub values: &'static [(&'static str, &'static str)],
    /// Longest accepted value of a string attribute.
    pub max_len: usize,
}

/// One service of the service list.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDef {
    pub code: ServiceCode,
    pub name: &'static str,
    pub description: &'static str,
    pub keywords: &'static str,
    pub group: &'static str,
    pub attributes: Vec<AttributeDef>,
}

const TIME_OF_DAY: AttributeDef = AttributeDef {
    code: "time_of_day",
    datatype: Datatype::Singlevaluelist,
    required: false,
    datatype_description: None,
    order: 2,
    description: "När på dygnet såg du det?",
    values: &[
        ("morning", "Morgon (06–09)"),
        ("day", "Dag (09–16)"),
        ("evening", "Kväll (16–22)"),
        ("night", "Natt (22–06)"),
    ],
    max_len: 0,
};

const DARKNESS: AttributeDef = AttributeDef {
    code: "darkness",
    datatype: Datatype::Singlevaluelist,
    required: false,
    datatype_description: None,
    order: 1,
    description: "Hur mörkt är det?",
    values: &[
        ("completely_dark", "Helt mörkt"),
        ("dim", "Svagt upplyst"),
        ("flickering", "Belysningen blinkar eller flimrar"),
    ],
    max_len: 0,
};

const LAMP_STATE: AttributeDef = AttributeDef {
    code: "lamp_state",
    datatype: Datatype::Singlevaluelist,
    required: false,
    datatype_description: None,
    order: 1,
    description: "Vad är fel på lampan?",
    values: &[
        ("off", "Lyser inte"),
        ("flickering", "Blinkar eller flimrar"),
        ("on_in_daytime", "Lyser på dagen"),
        ("damaged", "Stolpe eller armatur skadad"),
    ],
    max_len: 0,
};

/// The citizen may name the lamp by the number on its post; it then takes precedence over the
/// nearest lamp.
const LAMP_REF: AttributeDef = AttributeDef {
    code: "lamp_ref",
    datatype: Datatype::String,
    required: false,
    datatype_description: Some("Numret på stolpen, t.ex. L00123"),
    order: 3,
    description: "Lampans nummer (om det finns ett på stolpen)",
    values: &[],
    max_len: 64,
};

const BLOCKS: AttributeDef = AttributeDef {
    code: "blocks",
    datatype: Datatype::Singlevaluelist,
    required: false,
    datatype_description: None,
    order: 1,
    description: "Vad skymmer växtligheten?",
    values: &[
        ("light", "Belysningen"),
        ("view", "Sikten"),
        ("both", "Både belysning och sikt"),
    ],
    max_len: 0,
};

const UNSAFE_REASON: AttributeDef = AttributeDef {
    code: "reason",
    datatype: Datatype::Singlevaluelist,
    required: false,
    datatype_description: None,
    order: 1,
    description: "Varför känns platsen otrygg?",
    values: &[
        ("darkness", "Mörker"),
        ("isolated", "Öde, ingen annan i närheten"),
        ("people", "Personer som uppträder hotfullt"),
        ("hidden_spots", "Skymda platser, buskage"),
        ("other", "Annat"),
    ],
    max_len: 0,
};

/// The definition of one service.
pub fn definition(code: ServiceCode) -> ServiceDef {
    let (description, keywords, group, attributes) = match code {
        ServiceCode::DarkPath => (
            "En gångväg eller cykelväg som är för mörk att gå på när det är mörkt ute.",
            "mörker,belysning,gångväg,cykelväg",
            "Belysning",
            vec![DARKNESS, TIME_OF_DAY],
        ),
        ServiceCode::BrokenLamp => (
            "En gatlykta som inte lyser, blinkar eller är skadad.",
            "gatlykta,lampa,belysning,trasig",
            "Belysning",
            vec![LAMP_STATE, TIME_OF_DAY, LAMP_REF],
        ),
        ServiceCode::Vegetation => (
            "Träd eller buskar som skymmer belysningen eller sikten längs en gångväg.",
            "buskar,träd,växtlighet,sikt",
            "Belysning",
            vec![BLOCKS],
        ),
        ServiceCode::UnsafePlace => (
            "En plats som känns otrygg att passera.",
            "otrygghet,trygghet,plats",
            "Trygghet",
            vec![UNSAFE_REASON, TIME_OF_DAY],
        ),
        ServiceCode::Other => (
            "Något annat som gör utemiljön mörk eller otrygg.",
            "övrigt",
            "Trygghet",
            vec![],
        ),
    };
    ServiceDef {
        code,
        name: code.name_sv(),
        description,
        keywords,
        group,
        attributes,
    }
}

/// Every service, in the order of the service list.
pub fn all() -> Vec<ServiceDef> {
    ServiceCode::ALL.into_iter().map(definition).collect()
}

impl ServiceDef {
    /// Open311's `metadata`: whether the service has attributes to fetch.
    pub fn metadata(&self) -> bool {
        !self.attributes.is_empty()
    }

    pub fn attribute(&self, code: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.code == code)
    }
}

impl AttributeDef {
    /// Checks one submitted value; the error says what is accepted.
    pub fn check(&self, service: ServiceCode, value: &str) -> Result<(), String> {
        match self.datatype {
            Datatype::Singlevaluelist => {
                if self.values.iter().any(|(k, _)| *k == value) {
                    Ok(())
                } else {
                    let keys: Vec<&str> = self.values.iter().map(|(k, _)| *k).collect();
                    Err(format!(
                        "attribute[{}] of service {} must be one of {}, not {value:?}",
                        self.code,
                        service.as_str(),
                        keys.join(", ")
                    ))
                }
            }
            Datatype::String => {
                if value.chars().count() <= self.max_len {
                    Ok(())
                } else {
                    Err(format!(
                        "attribute[{}] is longer than {} characters",
                        self.code, self.max_len
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_a_swedish_name_and_unique_attribute_codes() {
        let defs = all();
        assert_eq!(defs.len(), 5);
        assert_eq!(definition(ServiceCode::DarkPath).name, "Mörk gångväg");
        assert_eq!(
            definition(ServiceCode::BrokenLamp).name,
            "Trasig gatubelysning"
        );
        assert_eq!(definition(ServiceCode::UnsafePlace).name, "Otrygg plats");
        for d in &defs {
            let mut codes: Vec<&str> = d.attributes.iter().map(|a| a.code).collect();
            codes.sort();
            codes.dedup();
            assert_eq!(codes.len(), d.attributes.len(), "{}", d.code.as_str());
            assert_eq!(d.metadata(), !d.attributes.is_empty());
        }
    }

    #[test]
    fn dark_path_asks_how_dark() {
        let d = definition(ServiceCode::DarkPath);
        let a = d.attribute("darkness").expect("darkness attribute");
        let keys: Vec<&str> = a.values.iter().map(|v| v.0).collect();
        assert_eq!(keys, ["completely_dark", "dim", "flickering"]);
        assert!(a.check(ServiceCode::DarkPath, "dim").is_ok());
        let e = a.check(ServiceCode::DarkPath, "pitch").unwrap_err();
        assert!(e.contains("completely_dark, dim, flickering"), "{e}");
        assert!(d.attribute("time_of_day").is_some());
    }

    #[test]
    fn string_attributes_are_bounded() {
        let d = definition(ServiceCode::BrokenLamp);
        let a = d.attribute("lamp_ref").unwrap();
        assert!(a.check(ServiceCode::BrokenLamp, "L00123").is_ok());
        assert!(a.check(ServiceCode::BrokenLamp, &"x".repeat(65)).is_err());
    }
}
