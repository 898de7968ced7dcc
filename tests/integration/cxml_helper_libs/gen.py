# gen.py CASES OUTDIR: build each case with python3-twilio's VoiceResponse (Debian package)
import json
import os
import sys

from twilio.twiml.voice_response import VoiceResponse

cases = json.load(open(sys.argv[1]))
out = sys.argv[2]
for case in cases:
    r = VoiceResponse()
    for v in case["verbs"]:
        if v["verb"] == "dial":
            d = r.dial(**v.get("attrs", {}))
            for n in v["nouns"]:
                if n["noun"] == "sip":
                    d.sip(n["body"], **n["attrs"])
                else:
                    d.number(n["body"], **n["attrs"])
        elif v["verb"] == "say":
            r.say(v["body"])
        elif v["verb"] == "hangup":
            r.hangup()
    with open(os.path.join(out, case["name"] + ".xml"), "w") as f:
        f.write(str(r))
