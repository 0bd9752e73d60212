//! Every SMS the service sends is under the same cost controls, whatever it carries: SMS-pumping
//! fraud is paid per message. Allowed countries only, a ceiling per country on the operator's
//! bill, a quota per number range so a block of numbers cannot be walked, and the metric the
//! SMS alarm watches.

use crate::error::{Error, Result};
use crate::limits::{Limit, LimitKey, Window, HOUR};
use crate::metrics;
use crate::time::Timestamp;
use crate::{PhoneNumber, Services};

/// Whether SMS may go to `phone`'s country; every SMS the service sends asks first (the message
/// speaks of codes: only a code request shows it to a person).
pub fn check_country(services: &Services, phone: &PhoneNumber) -> Result<()> {
    let (allowed, country) = (&services.config.sms_allowed_country_codes, phone.country_code());
    if !allowed.is_empty() && !allowed.contains(&country) {
        return Err(Error::UnsupportedRegion(format!("codes cannot be sent by SMS to +{country} numbers")));
    }
    Ok(())
}

/// What one SMS was counted on, given back when the request it was for is refused after all;
/// once the request's write holds the SMS (or the courier sends a notice), the charge stands.
#[must_use = "a charge is given back when the write that holds the SMS is refused"]
pub struct Charge {
    keys: Vec<LimitKey>,
    window: Window,
}

impl Charge {
    pub async fn refund(self, services: &Services) {
        services.store.refund(&self.keys, self.window).await;
    }
}

/// Checks the country and counts the SMS on its country's ceiling, and adds the per-range quota
/// to `limits`, for the caller's own transaction (a code request's). The charge is the country's.
pub(crate) async fn guard(
    services: &Services,
    phone: &PhoneNumber,
    now: Timestamp,
    limits: &mut Vec<Limit>,
) -> Result<Charge> {
    let charge = count_country(services, phone, now).await?;
    limits.push(Limit::Quota { key: range_key(services, phone), window: charge.window, max: range_max(services) });
    Ok(charge)
}

/// Counts one SMS outside a code request on every control, or refuses it; the charge to give
/// back if the write that holds it is refused.
pub async fn charge(services: &Services, phone: &PhoneNumber, now: Timestamp) -> Result<Charge> {
    let mut charge = count_country(services, phone, now).await?;
    let range = range_key(services, phone);
    let refused = match services.store.count_within(&range, charge.window, range_max(services)).await {
        Ok(Some(_)) => None,
        Ok(None) => Some(charge.window.refusal(now)),
        Err(fault) => Some(fault),
    };
    if let Some(refused) = refused {
        charge.refund(services).await;
        return Err(refused);
    }
    charge.keys.push(range);
    Ok(charge)
}

/// One counter per country is hot: it is counted on its own, outside any transaction, and
/// given back if the SMS is refused after all.
async fn count_country(services: &Services, phone: &PhoneNumber, now: Timestamp) -> Result<Charge> {
    check_country(services, phone)?;
    let country = phone.country_code();
    let hour = Window::containing(now, HOUR);
    let key = LimitKey::new(&services.config.secret, "sms-country", &country.to_string());
    if services.store.count_within(&key, hour, services.config.sms_per_country_per_hour).await?.is_none() {
        tracing::warn!(event = "sms_country_cap_reached", country, "SMS ceiling reached");
        metrics::count("SmsCountryCapHits", &[("Country", &country.to_string())]);
        return Err(hour.refusal(now));
    }
    Ok(Charge { keys: vec![key], window: hour })
}

/// A number's range, all but its last four digits: so that a block of numbers cannot be walked.
fn range_key(services: &Services, phone: &PhoneNumber) -> LimitKey {
    LimitKey::new(&services.config.secret, "range", phone.range_prefix())
}

fn range_max(services: &Services) -> u32 {
    services.config.sms_per_range_per_hour
}
