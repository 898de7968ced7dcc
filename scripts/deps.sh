# deps.sh: the Debian packages dialerd needs, installed only when missing
# Sourced by scripts/run and scripts/test. Debian's archive (and npm, for the
# helper-library tests) are the only registries used.

DEPS_BUILD="build-essential autoconf automake libtool pkg-config libre-dev libevent-dev libcurl4-openssl-dev libssl-dev libxml2-dev libpq-dev libgoogle-perftools-dev"
DEPS_RUN="postgresql-15 postgresql-client-15 curl ca-certificates util-linux procps"
DEPS_TEST="sip-tester valgrind python3 libxml2-utils socat openssl clang libclang-rt-14-dev iproute2 wrk kamailio strace"
# strace: webhook_keepalive counts the webhook client's epoll_ctl calls
# kamailio: the dispatcher in front of several instances (tests/lib/cluster.sh; dispatcher,
# tm, rr and ctl/kamcmd are all in the base package)
# modules append what their own tests need
DEPS_CXML="python3-twilio nodejs npm"
DEPS_STORE=""
DEPS_DIAL=""
# bench/run: the peer it measures dialerd against (Kamailio 5.6 with acc in PostgreSQL)
DEPS_BENCH="kamailio kamailio-postgres-modules"

# deps_install PACKAGE...: apt-get update + install of the missing ones
deps_install() {
	missing=""
	for p in "$@"; do
		# node and npm may come from outside Debian's packages: a working
		# binary is enough
		case $p in
		nodejs) command -v node >/dev/null 2>&1 && continue ;;
		npm) command -v npm >/dev/null 2>&1 && continue ;;
		esac
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "dialerd: missing Debian packages:$missing" >&2
		echo "dialerd: run as root, or: sudo apt-get install$missing" >&2
		return 1
	fi
	echo "dialerd: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null &&
		apt-get install -y -q --no-install-recommends $missing >/dev/null
}

# build_tree DIR [CONFIGURE ARGS...]: configure (once) and make in DIR
build_tree() {
	_dir=$1
	shift
	[ -x "$TOP/configure" ] || (cd "$TOP" && ./autogen.sh >/dev/null 2>&1) || return 1
	mkdir -p "$_dir"
	if [ ! -f "$_dir/Makefile" ] || [ "$(cat "$_dir/.configure-args" 2>/dev/null)" != "$*" ]; then
		(cd "$_dir" && "$TOP/configure" -q "$@") || return 1
		echo "$*" >"$_dir/.configure-args"
	fi
	make -s -C "$_dir" -j"$(nproc)" 2>&1 | grep -v '^ar: ' || true
	[ -x "$_dir/daemon/dialerd" ]
}
