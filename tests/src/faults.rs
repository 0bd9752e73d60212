//! Faults injected between the SDK and moto, per service and operation, as AWS shows them:
//! throttling answered with its real error body, a 500, a reset connection, or no answer at all.
//! The SDK's own retries, timeouts and error parsing run on them exactly as on AWS's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::HttpConnectorFuture;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_types::SdkConfig;

use crate::observe::{intercepted, operation, HttpRequest, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 with the service's throttling error.
    Throttle,
    /// 500 with an internal error.
    ServerError,
    /// The connection is reset before an answer.
    Reset,
    /// No answer, ever.
    Hang,
    /// 400 ValidationException: a bug of ours, not a fault of AWS.
    Invalid,
    /// AWS acts on the request, but its answer never arrives: the attempt times out.
    LoseAnswer,
}

/// The faults in force: each applies to the operations (`observe::operation` names) starting
/// with its prefix, e.g. `dynamodb:` or `dynamodb:TransactWriteItems`, every time or only the
/// next time.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Rule>>>);

struct Rule {
    prefix: String,
    fault: Fault,
    /// Matching requests let through before it applies.
    skip: u32,
    /// Applies once, then is gone.
    once: bool,
}

impl Faults {
    pub fn set(&self, prefix: &str, fault: Fault) {
        self.0.lock().unwrap().push(Rule { prefix: prefix.to_owned(), fault, skip: 0, once: false });
    }

    /// `fault` for the next matching request only.
    pub fn set_once(&self, prefix: &str, fault: Fault) {
        self.set_once_after(prefix, fault, 0);
    }

    /// `fault` for one matching request, after `skip` others pass.
    pub fn set_once_after(&self, prefix: &str, fault: Fault, skip: u32) {
        self.0.lock().unwrap().push(Rule { prefix: prefix.to_owned(), fault, skip, once: true });
    }

    /// How many rules are in force: a `set_once` rule leaves when it has applied.
    pub fn pending(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    /// `sdk` with these faults between it and moto.
    pub fn inject(&self, sdk: SdkConfig) -> SdkConfig {
        let faults = self.clone();
        intercepted(sdk, Arc::new(move |request: &HttpRequest| faults.verdict(request)))
    }

    fn verdict(&self, request: &HttpRequest) -> Verdict {
        let name = operation(request);
        let fault = {
            let mut rules = self.0.lock().unwrap();
            let Some(at) = rules.iter().position(|rule| name.starts_with(rule.prefix.as_str())) else {
                return Verdict::Pass;
            };
            if rules[at].skip > 0 {
                rules[at].skip -= 1;
                return Verdict::Pass;
            }
            let fault = rules[at].fault;
            if rules[at].once {
                rules.remove(at);
            }
            fault
        };
        if fault == Fault::LoseAnswer {
            return Verdict::LoseAnswer;
        }
        // As each protocol spells an error: SNS (query protocol) in XML, the others in JSON.
        let sns = name.starts_with("sns:");
        let json = |status: u16, kind: &str| {
            let (body, content_type) = if sns {
                let body = format!(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>{kind}</Code><Message>injected</Message></Error></ErrorResponse>"
                );
                (body, "text/xml")
            } else {
                (
                    format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected"}}"#),
                    "application/x-amz-json-1.0",
                )
            };
            let mut response = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
            response.headers_mut().insert("content-type", content_type);
            response.headers_mut().insert("x-amzn-errortype", kind.to_owned());
            HttpConnectorFuture::ready(Ok(response))
        };
        Verdict::Answer(Box::new(match fault {
            Fault::Throttle if sns => json(400, "Throttling"),
            Fault::Throttle => json(400, "ThrottlingException"),
            Fault::ServerError => json(500, "InternalServerError"),
            Fault::Invalid => json(400, "ValidationException"),
            Fault::LoseAnswer => unreachable!("answered above"),
            Fault::Reset => HttpConnectorFuture::ready(Err(ConnectorError::io("connection reset (injected)".into()))),
            Fault::Hang => HttpConnectorFuture::new(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Err(ConnectorError::io("no answer (injected)".into()))
            }),
        }))
    }
}
