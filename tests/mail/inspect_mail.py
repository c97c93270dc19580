"""Reads the .eml files of a folder as a mail client would, and prints them as JSON.

MIME with Python's email package; the calendar part with the icalendar package, whose
VTIMEZONE reading gives the event's instant as the attached time zone defines it.

    python3 tests/mail/inspect_mail.py DIR
"""

import datetime
import email
import email.policy
import json
import os
import re
import sys

import icalendar


def calendar(raw):
    cal = icalendar.Calendar.from_ical(raw)
    events = list(cal.walk("VEVENT"))
    zones = {str(z["TZID"]): z.to_tz() for z in cal.walk("VTIMEZONE")}
    event = events[0]
    start = event["DTSTART"]
    tzid = str(start.params.get("TZID", ""))
    naive = start.dt.replace(tzinfo=None)
    local = naive.replace(tzinfo=zones[tzid]) if tzid in zones else start.dt
    return {
        "method": str(cal.get("METHOD", "")),
        "events": len(events),
        "uid": str(event["UID"]),
        "sequence": int(event.get("SEQUENCE", 0)),
        "status": str(event.get("STATUS", "")),
        "summary": str(event.get("SUMMARY", "")),
        "location": str(event.get("LOCATION", "")),
        "tzid": tzid,
        "start_local": naive.isoformat(),
        "start_utc": local.astimezone(datetime.timezone.utc).isoformat(),
        "end_local": event["DTEND"].dt.replace(tzinfo=None).isoformat(),
        "attendee": str(event.get("ATTENDEE", "")),
        "organizer": str(event.get("ORGANIZER", "")),
    }


def read(path):
    with open(path, "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    html_text = html.get_content() if html else ""
    opening = re.search(r"<html([^>]*)>", html_text)
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', opening.group(1))) if opening else {}
    ics = None
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            ics = calendar(part.get_payload(decode=True))
            ics["content_type"] = part["Content-Type"]
            ics["filename"] = part.get_filename()
    return {
        "file": os.path.basename(path),
        "message_id": str(message["Message-ID"]),
        "from": str(message["From"]),
        "to": str(message["To"]),
        "subject": str(message["Subject"]),
        "date": str(message["Date"]),
        "content_type": message.get_content_type(),
        "text": text.get_content() if text else "",
        "html": html_text,
        "html_lang": attrs.get("lang", ""),
        "html_dir": attrs.get("dir", ""),
        "calendar": ics,
    }


def main():
    folder = sys.argv[1]
    names = sorted(n for n in os.listdir(folder) if n.endswith(".eml"))
    print(json.dumps([read(os.path.join(folder, n)) for n in names]))


if __name__ == "__main__":
    main()
