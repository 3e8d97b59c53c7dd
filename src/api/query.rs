//! Typed query strings: [`Q<T>`] (one parameter struct), [`Q2<A, B>`] and [`Q3<A, B, C>`] (the
//! shared incident filter and an endpoint's own parameters) deserialise the query into the
//! service layer's parameter types.
//!
//! The parameter names a struct takes are the ones its `IntoParams` derive documents in
//! `/api/openapi.json`, so what is refused and what is documented cannot drift apart:
//! - a name outside them is refused (400), with the names the endpoint takes;
//! - a name given twice is refused (which one would count?);
//! - a value that does not parse is refused naming the parameter and the value;
//! - names starting with `_` are ignored (cache busters).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use utoipa::openapi::path::ParameterIn;

use super::AppError;

/// One parameter struct from the query string.
#[derive(Debug, Clone)]
pub struct Q<T>(pub T);

/// Two parameter structs from the same query string; a name belongs to either.
#[derive(Debug, Clone)]
pub struct Q2<A, B>(pub A, pub B);

/// Three parameter structs from the same query string.
#[derive(Debug, Clone)]
pub struct Q3<A, B, C>(pub A, pub B, pub C);

/// The query of an endpoint that takes no parameters (any name but `_…` is refused).
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

/// The query parameter names `T` documents.
pub fn names<T: IntoParams>() -> Vec<String> {
    T::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// The query's pairs, `_`-names left out; refuses names outside `allowed` and repeated names.
pub fn pairs(query: &str, allowed: &[String]) -> Result<Vec<(String, String)>, AppError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| !k.starts_with('_'))
        .collect();
    let mut unknown: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !allowed.iter().any(|a| a == k))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        let mut takes: Vec<&str> = allowed.iter().map(String::as_str).collect();
        takes.sort_unstable();
        let takes = if takes.is_empty() {
            "no parameters".to_string()
        } else {
            takes.join(", ")
        };
        return Err(AppError::BadRequest(format!(
            "unknown parameter(s) {}; this endpoint takes {takes}",
            unknown.join(", ")
        )));
    }
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(o, _)| o == k) {
            return Err(AppError::BadRequest(format!(
                "{k} is given more than once; give it once (lists are comma separated)"
            )));
        }
    }
    Ok(pairs)
}

/// Deserialises `T` from checked pairs; an error names the parameter and its value.
pub fn from_pairs<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, AppError> {
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let name = e.path().to_string();
        let inner = e.inner().to_string();
        match pairs.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => AppError::BadRequest(format!("{name}={v:?}: {inner}")),
            None => AppError::BadRequest(inner),
        }
    })
}

/// Parses a whole query string into `T` (what [`Q`] does; also for tests and the CLI).
pub fn parse<T: DeserializeOwned + IntoParams>(query: &str) -> Result<T, AppError> {
    from_pairs(&pairs(query, &names::<T>())?)
}

impl<S: Send + Sync, T: DeserializeOwned + IntoParams> FromRequestParts<S> for Q<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parse(parts.uri.query().unwrap_or("")).map(Q)
    }
}

impl<S, A, B> FromRequestParts<S> for Q2<A, B>
where
    S: Send + Sync,
    A: DeserializeOwned + IntoParams,
    B: DeserializeOwned + IntoParams,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let mut allowed = names::<A>();
        allowed.extend(names::<B>());
        let pairs = pairs(parts.uri.query().unwrap_or(""), &allowed)?;
        Ok(Q2(from_pairs(&pairs)?, from_pairs(&pairs)?))
    }
}

impl<S, A, B, C> FromRequestParts<S> for Q3<A, B, C>
where
    S: Send + Sync,
    A: DeserializeOwned + IntoParams,
    B: DeserializeOwned + IntoParams,
    C: DeserializeOwned + IntoParams,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let mut allowed = names::<A>();
        allowed.extend(names::<B>());
        allowed.extend(names::<C>());
        let pairs = pairs(parts.uri.query().unwrap_or(""), &allowed)?;
        Ok(Q3(
            from_pairs(&pairs)?,
            from_pairs(&pairs)?,
            from_pairs(&pairs)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, IntoParams, PartialEq)]
    #[into_params(parameter_in = Query)]
    struct Sample {
        /// A number.
        eps: Option<f64>,
        name: Option<String>,
    }

    fn message(e: AppError) -> String {
        e.to_string()
    }

    #[test]
    fn typed_values_and_ignored_cache_busters() {
        let s: Sample = parse("eps=30.5&name=V%C3%A4st&_=123").unwrap();
        assert_eq!(
            s,
            Sample {
                eps: Some(30.5),
                name: Some("Väst".into())
            }
        );
        assert_eq!(parse::<Sample>("").unwrap().eps, None);
    }

    #[test]
    fn errors_name_the_parameter_and_the_value() {
        let e = message(parse::<Sample>("eps=abc").unwrap_err());
        assert!(e.starts_with("eps=\"abc\":"), "{e}");
        let e = message(parse::<Sample>("epsilon=3&eps=1").unwrap_err());
        assert_eq!(
            e,
            "unknown parameter(s) epsilon; this endpoint takes eps, name"
        );
        let e = message(parse::<Sample>("eps=1&eps=2").unwrap_err());
        assert!(e.starts_with("eps is given more than once"), "{e}");
    }
}
