# The extensions strict verifiers ask for (Python 3.13's default context:
# VERIFY_X509_STRICT): a CA says what its key is for, and a certificate
# names the key that signed it.
CA_EXT=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
LEAF_EXT=$'authorityKeyIdentifier=keyid,issuer\nsubjectKeyIdentifier=hash'

# make_certs DIR: a CA, a server certificate for 127.0.0.1 and a client
# certificate, all made here with openssl (for TLS etcd fixtures).
make_certs() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca "${CA_EXT[@]}" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf '%s\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$LEAF_EXT" >"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=client \
		-keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
	printf '%s\nextendedKeyUsage=clientAuth\n' "$LEAF_EXT" >"$d/client.ext"
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/client.ext" -out "$d/client.crt" 2>/dev/null
}

# site_ca DIR: a CA for the balancer's own certificates (DIR/site-ca.*).
site_ca() {
	mkdir -p "$1"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=site-ca "${CA_EXT[@]}" \
		-keyout "$1/site-ca.key" -out "$1/site-ca.crt" 2>/dev/null
}

# site_cert DIR NAME CN SERIAL [START END]: DIR/NAME.crt and NAME.key, a
# server certificate from site_ca's CA for CN (its only DNS name), with
# serial SERIAL (hex), valid 30 days from now, or from START to END
# (YYYYMMDDHHMMSSZ, through openssl ca: x509 cannot backdate).
site_cert() {
	local d=$1 n=$2 cn=$3 serial=$4
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" \
		-keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null
	printf '%s\nsubjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$LEAF_EXT" "$cn" >"$d/$n.ext"
	if [ $# -le 4 ]; then
		openssl x509 -req -in "$d/$n.csr" -CA "$d/site-ca.crt" \
			-CAkey "$d/site-ca.key" -set_serial "0x$serial" -days 30 \
			-extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
		return
	fi
	mkdir -p "$d/ca-db/new"
	: >"$d/ca-db/index.txt"
	echo "$serial" >"$d/ca-db/serial"
	printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s\nnew_certs_dir = %s\nserial = %s\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n[p]\ncommonName = supplied\n' \
		"$d/ca-db/index.txt" "$d/ca-db/new" "$d/ca-db/serial" >"$d/ca-db/ca.cnf"
	openssl ca -batch -notext -config "$d/ca-db/ca.cnf" -cert "$d/site-ca.crt" \
		-keyfile "$d/site-ca.key" -in "$d/$n.csr" -extfile "$d/$n.ext" \
		-startdate "$5" -enddate "$6" -out "$d/$n.crt" 2>/dev/null
}
