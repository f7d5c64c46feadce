started=1796318055
loadavg_before=1.15\ 2.29\ 2.21\ 1/172\ 31592
loadavg_after=3.97\ 2.82\ 2.35\ 1/270\ 2119
commit=b03f7eb
bench_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=1s\ -count=1\ ./inprocess\ \ \ #\ 3\ times\ over
load_cmd=cd\ bench\ \&\&\ go\ run\ ./cmd/load\ -root\ ..\ -clients\ 1\,16\,64\ -duration\ 3s\ -warmup\ 500ms\ -out\ load.json
redis_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=2s\ ./redisbench
callgrind_cmd=cd\ bench\ \&\&\ go\ build\ -o\ /tmp/callgrind\ ./cmd/callgrind\ \&\&\ /tmp/callgrind\ -n\ 10000\ -out\ callgrind.json
elapsed=1021
