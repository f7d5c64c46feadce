started=1796038104
loadavg_before=2.52\ 3.29\ 3.98\ 3/154\ 13573
loadavg_after=4.29\ 3.84\ 3.98\ 1/134\ 15870
commit=2121956
bench_cmd=cd\ bench\ \&\&\ go\ test\ -run\ \'\^\$\'\ -bench\ .\ -benchmem\ -benchtime=1s\ -count=1\ ./inprocess\ \ \ #\ 3\ times\ over
load_cmd=cd\ bench\ \&\&\ go\ run\ ./cmd/load\ -root\ ..\ -clients\ 1\,16\,64\ -duration\ 3s\ -warmup\ 500ms\ -out\ load.json
elapsed=368
