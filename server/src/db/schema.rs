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

diesel::joinable!(family_members -> families (family_id));
diesel::joinable!(detainees -> prisons (prison_id));
diesel::joinable!(family_detainees -> families (family_id));
diesel::joinable!(family_detainees -> detainees (detainee_id));
diesel::joinable!(role_grants -> accounts (account_id));
diesel::joinable!(caseloads -> families (family_id));
diesel::joinable!(devices -> accounts (account_id));
diesel::joinable!(api_tokens -> accounts (account_id));
diesel::joinable!(api_tokens -> devices (device_id));
diesel::joinable!(enrolment_codes -> family_members (member_id));

diesel::allow_tables_to_appear_in_same_query!(
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
);
