started=1796039278
loadavg_before=0.93\ 1.59\ 2.51\ 1/135\ 21866
loadavg_after=3.33\ 2.33\ 2.47\ 1/136\ 22929
commit=ec46ee6
bench_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=1s\ -count=1\ ./inprocess\ \ \ #\ 3\ times\ over
load_cmd=cd\ bench\ \&\&\ go\ run\ ./cmd/load\ -root\ ..\ -clients\ 1\,16\,64\ -duration\ 3s\ -warmup\ 500ms\ -out\ load.json
redis_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=2s\ ./redisbench
elapsed=385
