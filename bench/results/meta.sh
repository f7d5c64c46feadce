started=1796039908
loadavg_before=0.86\ 1.48\ 2.08\ 2/131\ 26732
loadavg_after=2.99\ 2.30\ 2.20\ 1/136\ 27773
commit=acc7689
bench_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=1s\ -count=1\ ./inprocess\ \ \ #\ 3\ times\ over
load_cmd=cd\ bench\ \&\&\ go\ run\ ./cmd/load\ -root\ ..\ -clients\ 1\,16\,64\ -duration\ 3s\ -warmup\ 500ms\ -out\ load.json
redis_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=2s\ ./redisbench
elapsed=398
