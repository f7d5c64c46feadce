started=1796309033
loadavg_before=0.40\ 0.45\ 1.36\ 1/203\ 11237
loadavg_after=6.29\ 3.32\ 2.20\ 1/271\ 14586
commit=3864e24
bench_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=1s\ -count=1\ ./inprocess\ \ \ #\ 3\ times\ over
load_cmd=cd\ bench\ \&\&\ go\ run\ ./cmd/load\ -root\ ..\ -clients\ 1\,16\,64\ -duration\ 3s\ -warmup\ 500ms\ -out\ load.json
redis_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=2s\ ./redisbench
callgrind_cmd=cd\ bench\ \&\&\ go\ build\ -o\ /tmp/callgrind\ ./cmd/callgrind\ \&\&\ /tmp/callgrind\ -n\ 10000\ -out\ callgrind.json
elapsed=881
