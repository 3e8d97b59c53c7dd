//! Open311's XML rendering of the same `Serialize` types the JSON answers are, so that element
//! names cannot drift apart: a struct field is an element of its name, a list an element whose
//! items are named by the singular of the list ([`item_name`]), `None` an empty element.
//!
//! Text is escaped, and characters XML 1.0 cannot carry become U+FFFD, whatever was stored
//! (input is checked too, see [`crate::text`]), so the document is always well-formed.

use std::fmt::Display;

use serde::ser::{self, Impossible, Serialize};

/// `<?xml …?><root>…</root>`.
pub fn to_xml<T: Serialize + ?Sized>(root: &str, value: &T) -> Result<String, Error> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    value.serialize(Element {
        out: &mut out,
        name: root,
    })?;
    Ok(out)
}

/// The element name of the items of a list element, as GeoReport v2 names them.
pub fn item_name(list: &str) -> &str {
    match list {
        "service_requests" => "request",
        "services" => "service",
        "attributes" => "attribute",
        "values" => "value",
        "endpoints" => "endpoint",
        "formats" => "format",
        "errors" => "error",
        other => other.strip_suffix('s').unwrap_or(other),
    }
}

/// Only structs, lists, options, strings, numbers, booleans and unit enum variants have an XML
/// form here; anything else is a programming error, caught by the tests of every answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Serialises one value as the element `name`.
struct Element<'a> {
    out: &'a mut String,
    name: &'a str,
}

impl Element<'_> {
    fn text(self, s: &str) -> Result<(), Error> {
        self.out.push('<');
        self.out.push_str(self.name);
        self.out.push('>');
        self.out.push_str(&quick_xml::escape::escape(
            crate::text::xml_safe(s).as_ref(),
        ));
        self.close();
        Ok(())
    }

    fn open(&mut self) {
        self.out.push('<');
        self.out.push_str(self.name);
        self.out.push('>');
    }

    fn close(self) {
        self.out.push_str("</");
        self.out.push_str(self.name);
        self.out.push('>');
    }

    fn unsupported(&self, what: &str) -> Error {
        Error(format!("<{}>: {what} has no XML form here", self.name))
    }
}

macro_rules! as_text {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<(), Error> {
            self.text(&v.to_string())
        }
    )*};
}

impl<'a> ser::Serializer for Element<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Children<'a>;
    type SerializeTuple = Children<'a>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Children<'a>;
    type SerializeStructVariant = Impossible<(), Error>;

    as_text!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char);

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.text(v)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(self.unsupported("bytes"))
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.out.push('<');
        self.out.push_str(self.name);
        self.out.push_str("/>");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.text(v)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(self.unsupported("an enum with data"))
    }

    fn serialize_seq(mut self, _: Option<usize>) -> Result<Children<'a>, Error> {
        self.open();
        let item = item_name(self.name);
        Ok(Children {
            parent: self,
            item: Some(item),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Children<'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(self.unsupported("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(self.unsupported("an enum with data"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(self.unsupported("a map (element names must be known)"))
    }

    fn serialize_struct(mut self, _: &'static str, _: usize) -> Result<Children<'a>, Error> {
        self.open();
        Ok(Children {
            parent: self,
            item: None,
        })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(self.unsupported("an enum with data"))
    }
}

/// The children of an open element: list items (all named `item`) or struct fields.
struct Children<'a> {
    parent: Element<'a>,
    item: Option<&'a str>,
}

impl Children<'_> {
    fn child<T: Serialize + ?Sized>(&mut self, name: &str, v: &T) -> Result<(), Error> {
        v.serialize(Element {
            out: self.parent.out,
            name,
        })
    }
}

impl ser::SerializeSeq for Children<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let item = self.item.unwrap_or("item");
        self.child(item, v)
    }

    fn end(self) -> Result<(), Error> {
        self.parent.close();
        Ok(())
    }
}

impl ser::SerializeTuple for Children<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStruct for Children<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.child(key, v)
    }

    fn end(self) -> Result<(), Error> {
        self.parent.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Request {
        service_request_id: String,
        status_notes: Option<String>,
        description: &'static str,
        lat: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        extended_attributes: Option<Ext>,
    }

    #[derive(Serialize)]
    struct Ext {
        attributes: Vec<Pair>,
    }

    #[derive(Serialize)]
    struct Pair {
        code: &'static str,
    }

    #[test]
    fn json_and_xml_come_from_the_same_types() {
        let plain = vec![Request {
            service_request_id: "7".into(),
            status_notes: None,
            description: "a < b & c\u{1}",
            lat: 59.5,
            extended_attributes: None,
        }];
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"[{"service_request_id":"7","status_notes":null,"description":"a < b & c\u0001","lat":59.5}]"#
        );
        assert_eq!(
            to_xml("service_requests", &plain).unwrap(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request><service_request_id>7</service_request_id><status_notes/><description>a &lt; b &amp; c\u{FFFD}</description><lat>59.5</lat></request></service_requests>"
        );
        let ext = Request {
            extended_attributes: Some(Ext {
                attributes: vec![Pair { code: "x" }, Pair { code: "y" }],
            }),
            ..plain.into_iter().next().unwrap()
        };
        let xml = to_xml("r", &ext).unwrap();
        assert!(
            xml.ends_with("<extended_attributes><attributes><attribute><code>x</code></attribute><attribute><code>y</code></attribute></attributes></extended_attributes></r>"),
            "{xml}"
        );
        let empty: Vec<Pair> = Vec::new();
        assert!(
            to_xml("services", &empty)
                .unwrap()
                .ends_with("<services></services>")
        );
    }

    #[test]
    fn shapes_without_an_xml_form_are_refused() {
        let map = std::collections::BTreeMap::from([("a", 1)]);
        assert!(to_xml("m", &map).is_err());
    }
}
