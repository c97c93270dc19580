//! `Companion`: one family member's account on this device, as the shells see it.
//!
//! Every method is a façade over [`reguide_client_core::Client`]: it parses the plain inputs,
//! calls the core, converts the answer, and tells the listener what changed. Reads and
//! offline writes are synchronous (they touch the local store only and return in milliseconds);
//! what talks to the server is `async` and runs on a thread of its own. A sync does not hold the
//! account while its request travels, so the app keeps reading and writing meanwhile.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};

use reguide_client_core::protocol::doc::write::{
    NewDocAppointment, NewDocRegistration, NewDocVisitRequest,
};
use reguide_client_core::protocol::{AccountId, DetaineeId, MemberId, PrisonId};
use reguide_client_core::{Client, NewWaitlistRequest, SyncNext};

use crate::error::{CompanionError, CompanionResult, guard};
use crate::records::{
    self, Appointment, AppointmentAnswer, Invitation, NewAppointment, NewRegistration, NewVisit,
    NewWaitlistEntry, Overview, Reference, Registration, Reminder, Rsvp, Step, SyncReport,
    SyncState, UpcomingVisit, Visit, WaitlistEntry, parse_id, to_millis,
};

/// What the shell registers to hear about changes, to refresh its screens.
#[uniffi::export(with_foreign)]
pub trait CompanionListener: Send + Sync {
    /// The family's data changed: a write on this device, or what a sync brought.
    fn family_changed(&self);
    /// A sync ended, well or not: the state to show and to plan the next one with.
    fn sync_state_changed(&self, state: SyncState);
}

/// Who is signed in on this device.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SessionInfo {
    pub family_id: String,
    pub member_id: String,
    pub device_id: String,
    pub expires_at: std::time::SystemTime,
}

/// One family member's account on this device: its data folder, its session, its sync.
#[derive(uniffi::Object)]
pub struct Companion {
    /// `None` once signed out (the data folder is gone): open a new companion to sign in.
    client: Mutex<Option<Client>>,
    listener: Mutex<Option<Arc<dyn CompanionListener>>>,
}

impl std::fmt::Debug for Companion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Companion").finish_non_exhaustive()
    }
}

fn signed_out() -> CompanionError {
    CompanionError::Unauthorized {
        code: "not_signed_in".to_owned(),
        message: "this account was signed out on this device: open it again to sign in".to_owned(),
    }
}

impl Companion {
    fn lock(&self) -> CompanionResult<MutexGuard<'_, Option<Client>>> {
        // A panic inside an earlier call leaves the account in an unknown state in memory
        // (what is on disk is whole): refuse until the shell opens it again.
        self.client.lock().map_err(|_| CompanionError::Internal {
            message: "an earlier call failed inside the library: open the account again".into(),
        })
    }

    /// Runs `f` on the account, converting its error and any panic.
    fn with<T>(&self, f: impl FnOnce(&mut Client) -> CompanionResult<T>) -> CompanionResult<T> {
        guard(|| {
            let mut slot = self.lock()?;
            let client = slot.as_mut().ok_or_else(signed_out)?;
            f(client)
        })
    }

    /// [`Self::with`] for a change to the family's data: the listener hears of it.
    fn change<T>(&self, f: impl FnOnce(&mut Client) -> CompanionResult<T>) -> CompanionResult<T> {
        let out = self.with(f)?;
        self.tell(|listener| listener.family_changed());
        Ok(out)
    }

    /// Calls the listener, if any, outside every lock; whatever it does cannot fail the call.
    fn tell(&self, call: impl FnOnce(&dyn CompanionListener)) {
        let listener = self.listener.lock().ok().and_then(|l| l.clone());
        if let Some(listener) = listener {
            let _ = catch_unwind(AssertUnwindSafe(|| call(listener.as_ref())));
        }
    }

    fn sync_blocking(&self) -> CompanionResult<SyncReport> {
        let result = self.sync_rounds();
        if let Ok(state) = self.with(|c| Ok(c.sync_status())) {
            if matches!(&result, Ok(report) if report.changed) {
                self.tell(|listener| listener.family_changed());
            }
            self.tell(|listener| listener.sync_state_changed(state.into()));
        }
        result
    }

    fn sync_rounds(&self) -> CompanionResult<SyncReport> {
        let mut exchange = self.with(|c| Ok(c.begin_sync()?))?;
        loop {
            // The account is not held while the request travels.
            let reply = guard(|| Ok(exchange.send()))?;
            match self.with(|c| Ok(c.finish_sync(exchange, reply)?))? {
                SyncNext::Done(outcome) => return Ok(outcome.into()),
                SyncNext::Again(next) => exchange = next,
            }
        }
    }
}

/// Runs blocking work (the network) on a thread of its own, as a future any executor polls.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> CompanionResult<T> + Send + 'static,
) -> CompanionResult<T> {
    let (sender, receiver) = futures_channel::oneshot::channel();
    std::thread::Builder::new()
        .name("reguide-io".to_owned())
        .spawn(move || {
            let _ = sender.send(guard(work));
        })
        .map_err(|e| CompanionError::Internal {
            message: format!("no thread for the request: {e}"),
        })?;
    receiver.await.unwrap_or_else(|_| {
        Err(CompanionError::Internal {
            message: "the request's thread ended without an answer".to_owned(),
        })
    })
}

fn ids<T: From<uuid::Uuid>>(field: &str, list: &[String]) -> CompanionResult<Vec<T>> {
    list.iter().map(|id| parse_id(field, id)).collect()
}

#[uniffi::export]
impl Companion {
    /// Opens (or creates) the account's data folder for the server at `server_url`. `key`
    /// (32 bytes, kept by the shell in the platform keystore) encrypts the folder at rest.
    #[uniffi::constructor]
    pub fn new(
        data_dir: String,
        server_url: String,
        key: Option<Vec<u8>>,
    ) -> CompanionResult<Arc<Self>> {
        guard(|| {
            let key: Option<[u8; 32]> = match key {
                None => None,
                Some(bytes) => Some(bytes.try_into().map_err(|_| {
                    CompanionError::invalid("invalid_key", "key", "an encryption key is 32 bytes")
                })?),
            };
            let client = Client::open(&data_dir, key.as_ref(), &server_url)?;
            Ok(Arc::new(Self {
                client: Mutex::new(Some(client)),
                listener: Mutex::new(None),
            }))
        })
    }

    /// Registers (or, with `None`, removes) the listener.
    pub fn set_listener(&self, listener: Option<Arc<dyn CompanionListener>>) {
        if let Ok(mut slot) = self.listener.lock() {
            *slot = listener;
        }
    }

    /// The IANA time zone reminders and due dates are computed in (e.g. the phone's).
    pub fn set_time_zone(&self, name: String) -> CompanionResult<()> {
        self.with(|c| Ok(c.set_time_zone(&name)?))
    }

    /// Who is signed in, if anyone.
    pub fn session(&self) -> CompanionResult<Option<SessionInfo>> {
        self.with(|c| {
            Ok(c.session().map(|s| SessionInfo {
                family_id: s.family_id.to_string(),
                member_id: s.member_id.to_string(),
                device_id: s.device_id.to_string(),
                expires_at: records::instant(s.expires_at),
            }))
        })
    }

    // ---- Signing in and out (online) ----------------------------------------------------------

    /// Signs in with email (or username) and password, enrolling this device.
    pub async fn login(
        self: Arc<Self>,
        login: String,
        password: String,
        device_name: String,
    ) -> CompanionResult<()> {
        off_thread(move || self.with(|c| Ok(c.login(&login, &password, &device_name)?))).await
    }

    /// Redeems a one-time enrolment code from a social worker; returns the username to sign
    /// in with on other devices.
    pub async fn enrol(
        self: Arc<Self>,
        code: String,
        password: String,
        device_name: String,
        email: Option<String>,
    ) -> CompanionResult<String> {
        off_thread(move || {
            self.with(|c| Ok(c.enrol(&code, &password, &device_name, email.as_deref())?))
        })
        .await
    }

    /// Signs out: revokes the device when the server is reachable and wipes the data folder
    /// in any case (warn first when `sync_state().pending_changes`). The companion is closed.
    pub async fn logout(self: Arc<Self>) -> CompanionResult<()> {
        off_thread(move || {
            guard(|| {
                let client = self.lock()?.take().ok_or_else(signed_out)?;
                Ok(client.logout()?)
            })
        })
        .await
    }

    // ---- Sync and reference data (online) -----------------------------------------------------

    /// Sends this device's changes and receives the server's. On failure nothing local is
    /// lost and the failure is recorded for the backoff (`sync_state().next_attempt`).
    pub async fn sync_now(self: Arc<Self>) -> CompanionResult<SyncReport> {
        off_thread(move || self.sync_blocking()).await
    }

    /// What a background scheduler plans with.
    pub fn sync_state(&self) -> CompanionResult<SyncState> {
        self.with(|c| Ok(c.sync_status().into()))
    }

    /// Fetches the family's prisons (rules, advice, slots, family days) and waiting-list
    /// entries, to read offline.
    pub async fn refresh_reference(self: Arc<Self>) -> CompanionResult<()> {
        off_thread(move || self.change(|c| Ok(c.refresh_reference()?))).await
    }

    /// The reference data as last fetched, with its time.
    pub fn reference(&self) -> CompanionResult<Option<Reference>> {
        self.with(|c| {
            let language = c.language()?;
            Ok(c.reference()?
                .map(|cache| records::reference(cache, language)))
        })
    }

    // ---- Reads (offline) ----------------------------------------------------------------------

    /// The first screen in one call: the next visit, what waits for an answer, what is
    /// overdue, the sync state.
    pub fn overview(&self) -> CompanionResult<Overview> {
        self.with(|c| Ok(c.overview()?.into()))
    }

    /// Every visit request, newest first.
    pub fn visits(&self) -> CompanionResult<Vec<Visit>> {
        self.with(|c| Ok(c.visit_requests()?.into_iter().map(Visit::from).collect()))
    }

    pub fn visit(&self, request_id: String) -> CompanionResult<Visit> {
        self.with(|c| Ok(c.visit_request(&request_id)?.into()))
    }

    /// The visits ahead with the prison's advice, soonest first.
    pub fn upcoming_visits(&self) -> CompanionResult<Vec<UpcomingVisit>> {
        self.with(|c| {
            Ok(c.upcoming_visits()?
                .into_iter()
                .map(UpcomingVisit::from)
                .collect())
        })
    }

    pub fn registrations(&self) -> CompanionResult<Vec<Registration>> {
        self.with(|c| {
            Ok(c.registrations()?
                .into_iter()
                .map(Registration::from)
                .collect())
        })
    }

    /// Administrative steps by category and due date, with what is overdue.
    pub fn steps(&self) -> CompanionResult<Vec<Step>> {
        self.with(|c| Ok(c.steps()?.into_iter().map(Step::from).collect()))
    }

    pub fn appointments(&self) -> CompanionResult<Vec<Appointment>> {
        self.with(|c| {
            Ok(c.appointments()?
                .into_iter()
                .map(Appointment::from)
                .collect())
        })
    }

    pub fn invitations(&self) -> CompanionResult<Vec<Invitation>> {
        self.with(|c| Ok(c.invitations()?.into_iter().map(Invitation::from).collect()))
    }

    /// The local notifications to schedule for the next `days` days.
    pub fn reminders(&self, days: u32) -> CompanionResult<Vec<Reminder>> {
        self.with(|c| Ok(c.reminders(days)?.into_iter().map(Reminder::from).collect()))
    }

    /// The family's waiting-list entries as last fetched.
    pub fn waitlist(&self) -> CompanionResult<Vec<WaitlistEntry>> {
        self.with(|c| {
            Ok(c.visit_waitlist()?
                .map(|cache| cache.entries.into_iter().map(WaitlistEntry::from).collect())
                .unwrap_or_default())
        })
    }

    // ---- Writes (offline, durable before they return) -----------------------------------------

    /// Asks for a visit; returns the request's id. The prison answers at the next sync.
    pub fn request_visit(&self, visit: NewVisit) -> CompanionResult<String> {
        let request = NewDocVisitRequest {
            detainee_id: parse_id::<DetaineeId>("detainee_id", &visit.detainee_id)?,
            prison_id: parse_id::<PrisonId>("prison_id", &visit.prison_id)?,
            visit_type: visit.visit_type.into(),
            preferences: visit
                .preferences
                .iter()
                .map(|p| p.parse("preferences"))
                .collect::<CompanionResult<_>>()?,
            visitors: ids::<MemberId>("visitors", &visit.visitors)?,
            support_needs: visit.support_needs.into_iter().map(Into::into).collect(),
            support_note: visit.support_note,
        };
        self.change(|c| Ok(c.request_visit(request)?))
    }

    /// Withdraws a request not confirmed yet.
    pub fn withdraw_visit(&self, request_id: String) -> CompanionResult<()> {
        self.change(|c| c.withdraw_visit(&request_id).map(drop).map_err(Into::into))
    }

    /// Cancels a confirmed visit (the prison's cut-off applies when the server receives it).
    pub fn cancel_visit(&self, request_id: String) -> CompanionResult<()> {
        self.change(|c| c.cancel_visit(&request_id).map(drop).map_err(Into::into))
    }

    /// Accepts the other slot a coordinator proposed.
    pub fn accept_proposal(&self, request_id: String) -> CompanionResult<()> {
        self.change(|c| c.accept_proposal(&request_id).map(drop).map_err(Into::into))
    }

    /// Registers for a family day (on its waiting list when it is full); returns the id.
    pub fn register_for_family_day(
        &self,
        registration: NewRegistration,
    ) -> CompanionResult<String> {
        let registration = NewDocRegistration {
            family_day_id: parse_id("family_day_id", &registration.family_day_id)?,
            adults: i64::from(registration.adults),
            children: i64::from(registration.children),
        };
        self.change(|c| Ok(c.register_for_family_day(registration)?))
    }

    pub fn cancel_registration(&self, registration_id: String) -> CompanionResult<()> {
        self.change(|c| {
            c.cancel_registration(&registration_id)
                .map(drop)
                .map_err(Into::into)
        })
    }

    /// Ticks or unticks an item of one of the family's own steps.
    pub fn tick_item(&self, step_id: String, item_id: String, ticked: bool) -> CompanionResult<()> {
        self.change(|c| {
            c.tick_item(&step_id, &item_id, ticked)
                .map(drop)
                .map_err(Into::into)
        })
    }

    /// Adds a note to a step.
    pub fn add_note(&self, step_id: String, text: String) -> CompanionResult<()> {
        self.change(|c| c.add_note(&step_id, &text).map(drop).map_err(Into::into))
    }

    /// Proposes an appointment to a social worker; returns its id.
    pub fn propose_appointment(&self, appointment: NewAppointment) -> CompanionResult<String> {
        let appointment = NewDocAppointment {
            with_account: parse_id::<AccountId>("with_account", &appointment.with_account)?,
            starts_at: to_millis("starts_at", appointment.starts_at)?,
            place: appointment.place,
            purpose: appointment.purpose,
            step_id: appointment.step_id,
        };
        self.change(|c| Ok(c.propose_appointment(appointment)?))
    }

    pub fn answer_appointment(
        &self,
        appointment_id: String,
        answer: AppointmentAnswer,
    ) -> CompanionResult<()> {
        self.change(|c| {
            c.answer_appointment(&appointment_id, answer.into())
                .map(drop)
                .map_err(Into::into)
        })
    }

    /// Answers a Living Lab invitation addressed to this member, with an optional note
    /// (needs: interpreter, childcare).
    pub fn answer_invitation(
        &self,
        invitation_id: String,
        answer: Rsvp,
        note: Option<String>,
    ) -> CompanionResult<()> {
        self.change(|c| Ok(c.answer_invitation(&invitation_id, answer.into(), note)?))
    }

    // ---- Waiting lists of full visit slots (online) -------------------------------------------

    /// Joins the waiting list of a full slot.
    pub async fn join_visit_waitlist(
        self: Arc<Self>,
        entry: NewWaitlistEntry,
    ) -> CompanionResult<WaitlistEntry> {
        let request = NewWaitlistRequest {
            detainee_id: parse_id("detainee_id", &entry.detainee_id)?,
            visit_type: entry.visit_type.into(),
            slot: entry.slot.parse("slot")?,
            visitors: ids("visitors", &entry.visitors)?,
        };
        off_thread(move || self.with(|c| Ok(c.join_visit_waitlist(request)?.into()))).await
    }

    /// Takes the place a waiting list offers; returns the confirmed visit's request id.
    pub async fn accept_waitlist_offer(
        self: Arc<Self>,
        entry_id: String,
    ) -> CompanionResult<String> {
        let id = parse_id("entry_id", &entry_id)?;
        off_thread(move || self.change(|c| Ok(c.accept_waitlist_offer(id)?))).await
    }

    pub async fn leave_visit_waitlist(self: Arc<Self>, entry_id: String) -> CompanionResult<()> {
        let id = parse_id("entry_id", &entry_id)?;
        off_thread(move || self.with(|c| Ok(c.leave_visit_waitlist(id)?))).await
    }
}
