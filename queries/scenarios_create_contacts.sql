-- Where reminders go, append-only: the latest row of a customer holds its contact.
create table if not exists customer_contacts (
    customer_id varchar not null,
    contact_name varchar,
    email varchar,
    postal_address varchar,
    user_name varchar not null,
    recorded_at timestamp not null,
)
