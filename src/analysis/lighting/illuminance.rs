//! Horizontal illuminance on a walkway from point light sources.
//!
//! # Model
//!
//! A luminaire of luminous intensity *I* (cd) towards a point, mounted at height *h* (m), lights
//! the ground at horizontal distance *x* with
//!
//! ```text
//!     E = I · cos³γ / h²  =  I · h / (h² + x²)^1.5        (lx)
//! ```
//!
//! (inverse-square law times the cosine of incidence, γ the angle from the vertical). Lamps add
//! up. This is the point-by-point method of EN 13201-3 with a simplified intensity table.
//!
//! # Intensity from flux: the light-distribution assumption
//!
//! Registers and OSM give luminous flux Φ (lm), sometimes only electrical power *P* (W), never an
//! intensity table. We assume the luminaire sends its whole flux into the lower hemisphere with
//! the same intensity in every direction (a flat, full cut-off LED path luminaire, no upward
//! light). A solid angle of 2π sr then gives
//!
//! ```text
//!     I = Φ · MF / (2π)
//! ```
//!
//! with the maintenance factor MF (default 0.8, the usual value for sealed LED luminaires cleaned
//! every few years, CIE 154) because EN 13201 classes are *maintained* values. Real path
//! luminaires throw more light sideways along the path than straight down, so the model is
//! pessimistic under the lamp and at wide angles about right; it never invents light.
//!
//! Flux missing: Φ = P · η with a luminaire efficacy η (default 100 lm/W, a modern LED
//! luminaire; a high-pressure sodium lantern is nearer 80). Neither flux nor power, or no height:
//! documented defaults for a typical LED path luminaire, 3 000 lm at 5 m. Every value taken from
//! a default is listed in [`LampModel::assumed`] and in the result's assumptions.
//!
//! # Reach
//!
//! A lamp's light is summed only where it adds at least `cutoff_lux` (default 0.005 lx, under a
//! hundredth of the weakest class minimum, P6's 0.4 lx): solving E(x) = cutoff gives
//!
//! ```text
//!     x_reach = sqrt( (I·h / cutoff)^(2/3) − h² )
//! ```
//!
//! about 73 m for the default lamp. The R-tree is queried with the largest reach.

use serde::Serialize;

use crate::model::{Lamp, LampStatus};

/// The photometric defaults and factors, all documented above.
#[derive(Debug, Clone, PartialEq)]
pub struct Photometry {
    /// Height used when a lamp has none (m).
    pub default_height_m: f64,
    /// Luminaire flux used when a lamp has neither flux nor power (lm).
    pub default_lumen: f64,
    /// Luminaire efficacy turning power into flux (lm/W).
    pub efficacy_lm_per_w: f64,
    /// Maintenance factor (ageing, soiling) applied to the flux.
    pub maintenance_factor: f64,
    /// Light below this is not summed (lx).
    pub cutoff_lux: f64,
    /// Upper bound on any lamp's reach (m), so that one absurd register row cannot make every
    /// R-tree query huge.
    pub max_reach_m: f64,
}

impl Default for Photometry {
    fn default() -> Self {
        Self {
            default_height_m: 5.0,
            default_lumen: 3_000.0,
            efficacy_lm_per_w: 100.0,
            maintenance_factor: 0.8,
            cutoff_lux: 0.005,
            max_reach_m: 200.0,
        }
    }
}

impl Photometry {
    /// Luminous intensity (cd) of a luminaire of flux `lumen` under the hemisphere assumption.
    pub fn intensity_cd(&self, lumen: f64) -> f64 {
        lumen * self.maintenance_factor / (2.0 * std::f64::consts::PI)
    }

    /// The horizontal distance beyond which a lamp adds less than `cutoff_lux`.
    pub fn reach_m(&self, intensity_cd: f64, height_m: f64) -> f64 {
        if intensity_cd <= 0.0 || height_m <= 0.0 {
            return 0.0;
        }
        let r2 = (intensity_cd * height_m / self.cutoff_lux).powf(2.0 / 3.0) - height_m * height_m;
        r2.max(0.0).sqrt().min(self.max_reach_m)
    }

    /// The assumptions every result rests on, in Swedish for the people reading the map.
    pub fn assumptions(&self) -> Vec<String> {
        vec![
            "Belysningsstyrkan beräknas punkt för punkt: E = I·h/(h²+x²)^1,5 per lampa, summerat över lamporna.".into(),
            format!(
                "Ljusfördelning: armaturens hela ljusflöde antas gå jämnt ut i nedre halvsfären, I = Φ·MF/(2π); underhållsfaktor MF = {}.",
                fmt_num(self.maintenance_factor)
            ),
            format!(
                "Lampor utan ljusflöde men med effekt: Φ = effekt × {} lm/W (LED-armatur).",
                fmt_num(self.efficacy_lm_per_w)
            ),
            format!(
                "Lampor utan uppgifter antas vara en typisk LED-armatur för gångväg: {} lm på {} m höjd.",
                fmt_num(self.default_lumen),
                fmt_num(self.default_height_m)
            ),
            format!(
                "Ljus under {} lx från en lampa räknas inte (högst {} m räckvidd).",
                fmt_num(self.cutoff_lux),
                fmt_num(self.max_reach_m)
            ),
        ]
    }
}

/// Numbers in Swedish text: decimal comma, no trailing zeros.
pub fn fmt_num(v: f64) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.replace('.', ",")
}

/// Which of a lamp's values came from defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Assumed {
    pub height: bool,
    /// Flux derived from power through the efficacy.
    pub lumen_from_watt: bool,
    /// Flux from the default luminaire.
    pub lumen: bool,
}

impl Assumed {
    /// Names of the assumed values, as the API lists them.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.height {
            v.push("height_m");
        }
        if self.lumen {
            v.push("lumen");
        }
        if self.lumen_from_watt {
            v.push("lumen_from_watt");
        }
        v
    }
}

/// Why a lamp gives no light.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OffReason {
    /// The register (or OSM) says broken.
    Register,
    /// An open citizen report about this lamp.
    Report(i64),
}

/// A lamp ready for the point-by-point sum.
#[derive(Debug, Clone, PartialEq)]
pub struct LampModel {
    pub x: f64,
    pub y: f64,
    pub height_m: f64,
    pub lumen: f64,
    pub intensity_cd: f64,
    /// Squared reach (m²), see the module documentation.
    pub reach2: f64,
    pub assumed: Assumed,
    /// `None` when the lamp shines.
    pub off: Option<OffReason>,
}

impl LampModel {
    /// A lamp with the given (or default) height and flux at (x, y), switched on.
    pub fn new(
        ph: &Photometry,
        x: f64,
        y: f64,
        height_m: Option<f64>,
        lumen: Option<f64>,
        watt: Option<f64>,
    ) -> Self {
        let mut assumed = Assumed::default();
        let height_m = match height_m.filter(|h| h.is_finite() && *h > 0.0) {
            Some(h) => h,
            None => {
                assumed.height = true;
                ph.default_height_m
            }
        };
        let lumen = match (
            lumen.filter(|l| l.is_finite() && *l > 0.0),
            watt.filter(|w| w.is_finite() && *w > 0.0),
        ) {
            (Some(l), _) => l,
            (None, Some(w)) => {
                assumed.lumen_from_watt = true;
                w * ph.efficacy_lm_per_w
            }
            (None, None) => {
                assumed.lumen = true;
                ph.default_lumen
            }
        };
        let intensity_cd = ph.intensity_cd(lumen);
        let reach = ph.reach_m(intensity_cd, height_m);
        Self {
            x,
            y,
            height_m,
            lumen,
            intensity_cd,
            reach2: reach * reach,
            assumed,
            off: None,
        }
    }

    /// A lamp of the register or OSM; `report_off` is an open report that keeps it off.
    pub fn from_lamp(ph: &Photometry, lamp: &Lamp, report_off: Option<i64>) -> Self {
        let mut m = Self::new(
            ph,
            lamp.location.x(),
            lamp.location.y(),
            lamp.height_m,
            lamp.lumen,
            lamp.watt,
        );
        m.off = if lamp.status == LampStatus::Broken {
            Some(OffReason::Register)
        } else {
            report_off.map(OffReason::Report)
        };
        m
    }

    pub fn is_on(&self) -> bool {
        self.off.is_none()
    }

    /// Illuminance (lx) at squared horizontal distance `d2`, within reach; 0 beyond.
    #[inline]
    pub fn lux_at_d2(&self, d2: f64) -> f64 {
        if d2 > self.reach2 {
            return 0.0;
        }
        illuminance(self.intensity_cd, self.height_m, d2)
    }
}

/// E = I·h / (h² + x²)^1.5 with `x2` = x², in lux.
#[inline]
pub fn illuminance(intensity_cd: f64, height_m: f64, x2: f64) -> f64 {
    let s = height_m * height_m + x2;
    intensity_cd * height_m / (s * s.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_at_hand_computed_points() {
        // I = 400 cd at 5 m: E(0) = 400/25 = 16 lx; E(5) = 2000/50^1.5 = 5.657 lx.
        assert!((illuminance(400.0, 5.0, 0.0) - 16.0).abs() < 1e-12);
        assert!((illuminance(400.0, 5.0, 25.0) - 2000.0 / 353.553_390_593_273_8).abs() < 1e-9);
    }

    #[test]
    fn intensity_and_reach_of_the_default_lamp() {
        let ph = Photometry::default();
        let i = ph.intensity_cd(3_000.0);
        assert!((i - 3_000.0 * 0.8 / (2.0 * std::f64::consts::PI)).abs() < 1e-9);
        let r = ph.reach_m(i, 5.0);
        // At the reach the lamp adds exactly the cutoff.
        assert!(
            (illuminance(i, 5.0, r * r) - ph.cutoff_lux).abs() < 1e-9,
            "reach {r}"
        );
        assert!(r > 70.0 && r < 75.0, "reach {r}");
    }

    #[test]
    fn defaults_are_recorded() {
        let ph = Photometry::default();
        let a = LampModel::new(&ph, 0.0, 0.0, None, None, None);
        assert_eq!(a.height_m, 5.0);
        assert_eq!(a.lumen, 3_000.0);
        assert_eq!(a.assumed.names(), vec!["height_m", "lumen"]);
        let b = LampModel::new(&ph, 0.0, 0.0, Some(6.0), None, Some(40.0));
        assert_eq!(b.lumen, 4_000.0);
        assert_eq!(b.assumed.names(), vec!["lumen_from_watt"]);
        let c = LampModel::new(&ph, 0.0, 0.0, Some(4.0), Some(1_500.0), Some(40.0));
        assert_eq!(c.lumen, 1_500.0);
        assert!(c.assumed.names().is_empty());
        assert_eq!(fmt_num(0.8), "0,8");
        assert_eq!(fmt_num(3000.0), "3000");
    }
}
