"""Drives the generated Python bindings of reguide-ffi against a real server, as a shell would.

Run by ffi/tests/bindings.rs, one phase at a time:
    python3 companion.py <phase> '<json arguments>'
with the folder holding reguide_ffi.py and the library on PYTHONPATH. Each phase prints one JSON
line with what the Rust test checks next; any failed check raises, which fails the test.
"""

import asyncio
import json
import os
import sys

import reguide_ffi as r


class Listener(r.CompanionListener):
    def __init__(self):
        self.family_changes = 0
        self.sync_states = []

    def family_changed(self):
        self.family_changes += 1

    def sync_state_changed(self, state):
        self.sync_states.append(state)


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def expect_error(kind, call, code=None, field=None):
    """Runs `call` (a function, or a coroutine to await) and returns the error it raised."""
    try:
        outcome = call()
        if asyncio.iscoroutine(outcome):
            asyncio.run(outcome)
    except kind as error:
        if code is not None:
            expect(error.code == code, f"code {error.code!r}, wanted {code!r}: {error}")
        if field is not None:
            expect(error.field == field, f"field {error.field!r}, wanted {field!r}: {error}")
        return error
    raise AssertionError(f"{kind.__name__} was not raised")


def open_companion(args, url):
    companion = r.Companion(args["dir"], url, None)
    listener = Listener()
    companion.set_listener(listener)
    return companion, listener


def online(args):
    """Signs in, syncs, asks for a visit the coordinator will decide on, syncs it."""
    companion, listener = open_companion(args, args["url"])
    asyncio.run(companion.login(args["email"], args["password"], "Fatima's phone"))
    session = companion.session()
    expect(session is not None and session.member_id == args["member"], "signed in as Fatima")
    asyncio.run(companion.sync_now())
    asyncio.run(companion.refresh_reference())
    reference = companion.reference()
    expect(reference is not None, "the reference cache is there")
    slot = next(
        s for p in reference.prisons for s in p.slots
        if s.slot.template_id == args["template"] and s.slot.date == args["date"]
    )
    expect(slot.bookable, "the slot is open")

    request = companion.request_visit(r.NewVisit(
        detainee_id=args["detainee"],
        prison_id=args["prison"],
        visit_type=r.VisitType.TABLE,
        preferences=[r.SlotPick(template_id=args["template"], date=args["date"])],
        visitors=[args["member"]],
        support_needs=[r.SupportNeed.PRAM],
        support_note="We come with a baby",
    ))
    expect(companion.visit(request).status == r.VisitStatus.PENDING, "pending, offline")
    expect(companion.sync_state().pending_changes, "a change waits")
    report = asyncio.run(companion.sync_now())
    expect(report.sent_bytes > 0, "the change was sent")
    expect(not companion.sync_state().pending_changes, "nothing waits")
    expect(companion.visit(request).status == r.VisitStatus.PENDING, "the coordinator decides")
    overview = companion.overview()
    expect(overview.visits_pending >= 1, "the overview counts it")
    expect(listener.family_changes >= 2, "the listener heard of the changes")
    expect(len(listener.sync_states) >= 2, "and of the syncs")
    print(json.dumps({"request": request}))


def offline(args):
    """The server is down: changes are made and kept; a sync fails as offline."""
    companion, listener = open_companion(args, args["url"])
    registration = companion.register_for_family_day(
        r.NewRegistration(family_day_id=args["family_day"], adults=1, children=1)
    )
    states = {x.id: x.state for x in companion.registrations()}
    expect(states[registration] == r.RegistrationState.REQUESTED, "requested, offline")
    error = expect_error(r.CompanionError.Offline, lambda: companion.sync_now())
    expect(error.code == "network_unavailable", f"offline: {error}")
    state = companion.sync_state()
    expect(state.pending_changes and state.last_error == "network_unavailable", "kept, noted")
    expect(listener.sync_states and listener.sync_states[-1].pending_changes, "the listener heard")
    print(json.dumps({"registration": registration}))


def back(args):
    """The server is back (on another address): the sync delivers both ways."""
    companion, listener = open_companion(args, args["url"])
    report = asyncio.run(companion.sync_now())
    expect(report.changed, "the coordinator's decision came")
    visit = companion.visit(args["request"])
    expect(visit.status == r.VisitStatus.CONFIRMED, f"confirmed: {visit.status}")
    expect(visit.slot == r.SlotPick(template_id=args["template"], date=args["date"]), "the slot")
    states = {x.id: x.state for x in companion.registrations()}
    expect(states[args["registration"]] == r.RegistrationState.REGISTERED, "registered")
    expect(not companion.sync_state().pending_changes, "nothing waits")
    asyncio.run(companion.refresh_reference())
    ahead = [v for v in companion.upcoming_visits() if v.request_id == args["request"]]
    expect(ahead and ahead[0].what_to_bring, "the visit ahead says what to bring")
    expect(any(x.key == "visit:" + args["request"] for x in companion.reminders(31)), "reminder")
    expect(listener.family_changes >= 1, "the listener heard")
    print(json.dumps({"confirmed": True}))


def invalid(args):
    """Wrong inputs raise the error naming what is wrong, and change nothing."""
    expect_error(r.CompanionError.InvalidInput,
                 lambda: r.Companion(args["dir"], args["url"], b"\x01" * 16), "invalid_key", "key")
    companion, _ = open_companion(args, args["url"])
    before = len(companion.visits())
    slot = r.SlotPick(template_id=args["template"], date=args["date"])

    def visit(**changes):
        fields = dict(detainee_id=args["detainee"], prison_id=args["prison"],
                      visit_type=r.VisitType.TABLE, preferences=[slot],
                      visitors=[args["member"]], support_needs=[], support_note=None)
        fields.update(changes)
        return lambda: companion.request_visit(r.NewVisit(**fields))

    expect_error(r.CompanionError.InvalidInput, visit(preferences=[]), "invalid_value", "preferences")
    expect_error(r.CompanionError.InvalidInput, visit(visitors=[]), "invalid_value", "visitors")
    expect_error(r.CompanionError.InvalidInput, visit(detainee_id="somebody"), "invalid_id", "detainee_id")
    expect_error(r.CompanionError.InvalidInput,
                 visit(preferences=[r.SlotPick(template_id=args["template"], date="31/12/2027")]),
                 "invalid_date", "preferences")
    expect_error(r.CompanionError.InvalidInput,
                 lambda: companion.add_note("no-such-step", "   "), "invalid_value", "text")
    expect_error(r.CompanionError.InvalidInput,
                 lambda: companion.withdraw_visit("no-such-request"), "not_found", "id")
    expect_error(r.CompanionError.InvalidInput,
                 lambda: companion.register_for_family_day(
                     r.NewRegistration(family_day_id=args["family_day"], adults=0, children=0)),
                 "invalid_value", "adults")
    expect_error(r.CompanionError.InvalidInput,
                 lambda: companion.set_time_zone("Atlantis/Capital"), "invalid_time_zone", "time_zone")
    expect(len(companion.visits()) == before, "nothing was written")
    expect(not companion.sync_state().pending_changes, "nothing waits")

    # Signing in: a wrong password, and staff (the app is for families).
    other = r.Companion(args["dir"] + "-other", args["url"], None)
    expect_error(r.CompanionError.Unauthorized,
                 lambda: other.login(args["email"], "not the password", "phone"),
                 "invalid_credentials")
    expect_error(r.CompanionError.NotAllowed,
                 lambda: other.login(args["staff_email"], args["password"], "phone"),
                 "not_a_family_member")
    expect_error(r.CompanionError.Unauthorized, lambda: other.overview(), "not_signed_in")
    # Signed out, the companion is closed and its folder gone.
    asyncio.run(companion.logout())
    expect_error(r.CompanionError.Unauthorized, lambda: companion.overview(), "not_signed_in")
    print(json.dumps({"invalid": "ok"}))


PHASES = {"online": online, "offline": offline, "back": back, "invalid": invalid}

if __name__ == "__main__":
    PHASES[sys.argv[1]](json.loads(sys.argv[2]))
    # Leave without the interpreter's finalization: a thread of the library may still be
    # handing its last answer back to Python as it shuts down, and a thread that touches a
    # finalizing interpreter is killed mid-call (an abort, not a failed check). Every check has
    # run and the result is printed by now.
    sys.stdout.flush()
    os._exit(0)
