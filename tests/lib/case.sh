# case.sh: set-ups that several integration cases share (source after common.sh and dlr_init)

# inbound_init: SIPp and dialtool ready, and two free ports: ME, where dialtool listens,
# and UAC, the SIPp caller's own
inbound_init() {
	. "$TOP/tests/lib/sipp.sh"
	. "$TOP/tests/lib/dial.sh"
	dial_init
	UAC=$(free_port)
	ME=$(free_port)
}

# inbound_uac PROTO SCENARIO [SIPP ARGS...]: once dialtool listens on ME (udp or tcp), runs
# the SIPp caller against it and waits up to 15 s for it; returns SIPp's status
inbound_uac() {
	_proto=$1
	_scen=$2
	shift 2
	dial_wait_port "$_proto" "$ME"
	sipp_start uac "$_scen" "127.0.0.1:$ME" -i 127.0.0.1 -p "$UAC" "$@"
	sipp_wait uac 15
}

# store_case_init: a throwaway PostgreSQL with every migration applied, and the store_*
# helpers (the prologue of each store_* case)
store_case_init() {
	. "$TOP/tests/lib/pg.sh"
	. "$TOP/tests/lib/store.sh"
	pg_start
	DIALERD_DATABASE_URL=$DATABASE_URL "$DIALERD" migrate >/dev/null || harness_error "migrate failed"
}
