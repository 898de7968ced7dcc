-- acc.sql: Kamailio 5.6's acc table for PostgreSQL (utils/kamctl/postgres/acc-create.sql, table
-- version 5) plus the two extra columns the bench's acc config fills: X-A of the INVITE and
-- X-Agent-Id of the 200 that answered it. A separate database from dialerd's call log.
create table version (
	table_name varchar(32) not null,
	table_version integer default 0 not null,
	constraint version_table_name_idx unique (table_name)
);
insert into version (table_name, table_version) values ('version', 1);

create table acc (
	id serial primary key not null,
	method varchar(16) default '' not null,
	from_tag varchar(128) default '' not null,
	to_tag varchar(128) default '' not null,
	callid varchar(255) default '' not null,
	sip_code varchar(3) default '' not null,
	sip_reason varchar(128) default '' not null,
	time timestamp without time zone not null,
	x_a varchar(64),
	x_agent varchar(64)
);
create index acc_callid_idx on acc (callid);
insert into version (table_name, table_version) values ('acc', 5);
