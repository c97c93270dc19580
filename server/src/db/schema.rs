//! The relational schema, in portable types: one definition for SQLite and PostgreSQL.
//! Written by hand to match `migrations/{sqlite,postgres}`; a test checks both backends agree.

diesel::table! {
    instance_meta (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    prisons (id) {
        id -> Text,
        name -> Text,
        city -> Text,
        time_zone -> Text,
        created_at -> Timestamp,
        address -> Text,
        languages -> Text,
        contact_phone -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        arrival_advice -> Text,
        what_to_bring -> Text,
        accessibility -> Text,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        email -> Nullable<Text>,
        username -> Text,
        display_name -> Text,
        preferred_language -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    families (id) {
        id -> Text,
        label -> Text,
        created_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
    }
}

diesel::table! {
    family_members (id) {
        id -> Text,
        family_id -> Text,
        account_id -> Nullable<Text>,
        display_name -> Text,
        relation -> Text,
        preferred_language -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        birth_date -> Nullable<Date>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    detainees (id) {
        id -> Text,
        full_name -> Text,
        prison_id -> Text,
        internal_number -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    family_detainees (family_id, detainee_id) {
        family_id -> Text,
        detainee_id -> Text,
    }
}

diesel::table! {
    role_grants (id) {
        id -> Text,
        account_id -> Text,
        role -> Text,
        prison_id -> Nullable<Text>,
        family_id -> Nullable<Text>,
        scope_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    caseloads (account_id, family_id) {
        account_id -> Text,
        family_id -> Text,
        created_at -> Timestamp,
        service -> Nullable<Text>,
    }
}

diesel::table! {
    caseload_requests (id) {
        id -> Text,
        account_id -> Text,
        family_id -> Text,
        service -> Text,
        reason -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        actor_id -> Text,
        created_at -> Timestamp,
        last_seen_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        token_hash -> Text,
        account_id -> Text,
        device_id -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        web -> Bool,
    }
}

diesel::table! {
    enrolment_codes (id) {
        id -> Text,
        code_hash -> Text,
        member_id -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        window_started_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_account_id -> Nullable<Text>,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
    }
}

diesel::table! {
    visit_rules (prison_id, visit_type) {
        prison_id -> Text,
        visit_type -> Text,
        min_notice_hours -> Integer,
        max_days_ahead -> Integer,
        max_visitors -> Integer,
        max_adults -> Integer,
        max_children -> Integer,
        adult_from_age -> Integer,
        auto_confirm -> Bool,
        cancel_cutoff_hours -> Integer,
    }
}

diesel::table! {
    session_templates (id) {
        id -> Text,
        prison_id -> Text,
        weekday -> Integer,
        starts_at -> Text,
        ends_at -> Text,
        every_weeks -> Integer,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        room -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    session_capacities (template_id, visit_type) {
        template_id -> Text,
        visit_type -> Text,
        capacity -> Integer,
    }
}

diesel::table! {
    blocked_dates (id) {
        id -> Text,
        prison_id -> Text,
        date -> Date,
        template_id -> Nullable<Text>,
        reason -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    visit_slots (id) {
        id -> Text,
        prison_id -> Text,
        template_id -> Text,
        date -> Date,
        visit_type -> Text,
        capacity -> Integer,
        booked -> Integer,
    }
}

diesel::table! {
    visitor_approvals (detainee_id, member_id) {
        detainee_id -> Text,
        member_id -> Text,
        status -> Text,
        basis -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    visit_requests (id) {
        id -> Text,
        reference -> Text,
        family_id -> Text,
        detainee_id -> Text,
        prison_id -> Text,
        visit_type -> Text,
        status -> Text,
        channel -> Text,
        support_needs -> Text,
        support_note -> Nullable<Text>,
        slot_id -> Nullable<Text>,
        decline_reason -> Nullable<Text>,
        decline_note -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        flagged -> Bool,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    visit_request_preferences (request_id, rank) {
        request_id -> Text,
        rank -> Integer,
        template_id -> Text,
        date -> Date,
    }
}

diesel::table! {
    visit_request_visitors (request_id, member_id) {
        request_id -> Text,
        member_id -> Text,
    }
}

diesel::table! {
    visit_events (id) {
        id -> Text,
        request_id -> Text,
        seq -> Integer,
        at -> Timestamp,
        actor_account_id -> Nullable<Text>,
        kind -> Text,
        detail -> Text,
    }
}

diesel::table! {
    visit_waitlist (id) {
        id -> Text,
        slot_key -> Text,
        prison_id -> Text,
        template_id -> Text,
        date -> Date,
        visit_type -> Text,
        family_id -> Text,
        detainee_id -> Text,
        visitors -> Text,
        status -> Text,
        offer_expires_at -> Nullable<Timestamp>,
        request_id -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    family_days (id) {
        id -> Text,
        prison_id -> Text,
        title -> Text,
        date -> Date,
        starts_at -> Text,
        ends_at -> Text,
        programme -> Text,
        capacity_families -> Integer,
        capacity_people -> Integer,
        registered_families -> Integer,
        registered_people -> Integer,
        min_child_age -> Integer,
        max_child_age -> Integer,
        registration_deadline -> Timestamp,
        cancelled -> Bool,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    family_day_registrations (id) {
        id -> Text,
        family_day_id -> Text,
        family_id -> Text,
        adults -> Integer,
        children -> Integer,
        status -> Text,
        note -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    family_documents (family_id) {
        family_id -> Text,
        snapshot -> Binary,
        snapshot_heads -> Text,
        increments_bytes -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    family_document_increments (id) {
        id -> BigInt,
        family_id -> Text,
        bytes -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    privacy_requests (id) {
        id -> Text,
        kind -> Text,
        member_id -> Text,
        family_id -> Text,
        requested_by -> Nullable<Text>,
        state -> Text,
        note -> Text,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
    }
}

diesel::table! {
    retired_changes (family_id, hash) {
        family_id -> Text,
        hash -> Text,
    }
}

diesel::joinable!(family_members -> families (family_id));
diesel::joinable!(visit_rules -> prisons (prison_id));
diesel::joinable!(session_templates -> prisons (prison_id));
diesel::joinable!(session_capacities -> session_templates (template_id));
diesel::joinable!(visit_requests -> families (family_id));
diesel::joinable!(visit_requests -> detainees (detainee_id));
diesel::joinable!(visit_requests -> visit_slots (slot_id));
diesel::joinable!(visit_request_preferences -> visit_requests (request_id));
diesel::joinable!(visit_request_visitors -> visit_requests (request_id));
diesel::joinable!(visit_request_visitors -> family_members (member_id));
diesel::joinable!(visit_events -> visit_requests (request_id));
diesel::table! {
    step_templates (key) {
        key -> Text,
        region -> Text,
        body -> Text,
        updated_at -> Timestamp,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    action_links (id) {
        id -> Text,
        token_hash -> Text,
        purpose -> Text,
        family_id -> Text,
        object_id -> Text,
        account_id -> Text,
        answer -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        kind -> Text,
        topic -> Text,
        recipient_key -> Text,
        to_address -> Text,
        to_name -> Text,
        language -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        calendar -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        send_after -> Timestamp,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    calendar_sequences (uid) {
        uid -> Text,
        sequence -> Integer,
    }
}

diesel::table! {
    mail_opt_outs (recipient_key, kind) {
        recipient_key -> Text,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    living_labs (id) {
        id -> Text,
        series_id -> Nullable<Text>,
        title -> Text,
        theme -> Text,
        description -> Text,
        date -> Date,
        starts_at -> Text,
        ends_at -> Text,
        time_zone -> Text,
        place -> Text,
        online_link -> Nullable<Text>,
        capacity -> Integer,
        taken -> Integer,
        languages -> Text,
        accessibility -> Text,
        agenda -> Text,
        cancelled -> Bool,
        summary -> Nullable<Text>,
        next_steps -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    living_lab_facilitators (living_lab_id, account_id) {
        living_lab_id -> Text,
        account_id -> Text,
    }
}

diesel::table! {
    living_lab_invitations (id) {
        id -> Text,
        living_lab_id -> Text,
        role -> Text,
        account_id -> Nullable<Text>,
        member_id -> Nullable<Text>,
        family_id -> Nullable<Text>,
        email -> Nullable<Text>,
        name -> Text,
        language -> Text,
        answer -> Nullable<Text>,
        place -> Text,
        waiting_since -> Nullable<Timestamp>,
        note -> Nullable<Text>,
        needs -> Text,
        answered_at -> Nullable<Timestamp>,
        attended -> Nullable<Bool>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    living_lab_links (id) {
        id -> Text,
        token_hash -> Text,
        invitation_id -> Text,
        answer -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(visitor_approvals -> family_members (member_id));
diesel::joinable!(family_day_registrations -> family_days (family_day_id));
diesel::joinable!(family_day_registrations -> families (family_id));
diesel::joinable!(family_days -> prisons (prison_id));
diesel::joinable!(detainees -> prisons (prison_id));
diesel::joinable!(family_detainees -> families (family_id));
diesel::joinable!(family_detainees -> detainees (detainee_id));
diesel::joinable!(role_grants -> accounts (account_id));
diesel::joinable!(caseloads -> families (family_id));
diesel::joinable!(devices -> accounts (account_id));
diesel::joinable!(api_tokens -> accounts (account_id));
diesel::joinable!(api_tokens -> devices (device_id));
diesel::joinable!(enrolment_codes -> family_members (member_id));
diesel::joinable!(family_documents -> families (family_id));
diesel::joinable!(family_document_increments -> family_documents (family_id));

diesel::allow_tables_to_appear_in_same_query!(
    retired_changes,
    privacy_requests,
    instance_meta,
    prisons,
    accounts,
    families,
    family_members,
    detainees,
    family_detainees,
    role_grants,
    caseloads,
    devices,
    api_tokens,
    enrolment_codes,
    login_throttle,
    audit_log,
    visit_rules,
    session_templates,
    session_capacities,
    blocked_dates,
    visit_slots,
    visitor_approvals,
    visit_requests,
    visit_request_preferences,
    visit_request_visitors,
    visit_events,
    visit_waitlist,
    family_days,
    family_day_registrations,
    family_documents,
    family_document_increments,
    step_templates,
    caseload_requests,
    action_links,
    outbox,
    calendar_sequences,
    mail_opt_outs,
    living_labs,
    living_lab_facilitators,
    living_lab_invitations,
    living_lab_links,
);
