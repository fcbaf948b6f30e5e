//! Publishing events with a bounded memory. kube's `Recorder` keeps every event it published
//! for six minutes (to count repeats as a series) and scans them all on each publish: a burst
//! of thousands of integrations would keep thousands of events in memory. A fresh recorder every
//! `PER_RECORDER` events bounds that; a repeat just after the swap starts a new event instead of
//! counting on the old one.

use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, Recorder, Reporter};

const PER_RECORDER: usize = 256;

pub struct Events {
    client: kube::Client,
    reporter: Reporter,
    current: Mutex<(Recorder, usize)>,
}

impl Events {
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        let recorder = Recorder::new(client.clone(), reporter.clone());
        Events {
            client,
            reporter,
            current: Mutex::new((recorder, 0)),
        }
    }

    pub async fn publish(
        &self,
        event: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let recorder = {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            if current.1 >= PER_RECORDER {
                *current = (Recorder::new(self.client.clone(), self.reporter.clone()), 0);
            }
            current.1 += 1;
            current.0.clone()
        };
        recorder.publish(event, regarding).await
    }
}
